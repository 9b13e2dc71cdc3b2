"""The text-command parser: independent validation sets, clause splitting, undo/reset, unknowns."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ris_fusion_ros.core.editing import BACKGROUND, EVERYTHING, Effect, parse_command
from ris_fusion_ros.core.editing.commands import STRONG, WEAK
from ris_fusion_ros.core.editing.validation import VALIDATION_FILE, score_commands

SETS = [VALIDATION_FILE, VALIDATION_FILE.with_name("validation_2.json")]


@pytest.mark.parametrize("path", SETS, ids=lambda p: Path(p).stem)
def test_validation_sets_parse_accurately(path):
    score = score_commands(path)
    assert score.total >= 25
    assert score.accuracy >= 0.9, "\n".join(score.failures)


def test_validation_sets_hold_enough_commands_including_unknowns():
    import json

    entries = [e for path in SETS for e in json.loads(Path(path).read_text())["commands"]]
    assert len(entries) >= 60
    assert sum(e["kind"] == "unknown" for e in entries) >= 10


def test_two_clauses_with_background_and_target():
    parsed = parse_command("brighten the car on the left and denoise the rest")
    assert parsed.kind == "edit"
    assert [(c.target, c.effect) for c in parsed.clauses] == [("car on the left", Effect.BRIGHTEN),
                                                              (BACKGROUND, Effect.DENOISE)]


def test_and_inside_a_target_does_not_split():
    parsed = parse_command("highlight the man and the woman")
    assert [(c.target, c.effect) for c in parsed.clauses] == [("man and the woman", Effect.HIGHLIGHT)]


def test_more_visible_is_highlight_but_visible_detail_is_inclination():
    assert parse_command("make the dog more visible").clauses[0].effect is Effect.HIGHLIGHT
    assert parse_command("more visible detail on the dog").clauses[0].effect is Effect.VISIBLE
    assert parse_command("less thermal on the dog").clauses[0].effect is Effect.VISIBLE


def test_strength_words_and_everything_target():
    assert parse_command("brighten slightly").clauses[0].strength == WEAK
    strong = parse_command("darken the whole image a lot").clauses[0]
    assert (strong.target, strong.effect, strong.strength) == (EVERYTHING, Effect.DARKEN, STRONG)


def test_pronoun_takes_the_previous_target():
    parsed = parse_command("I can't see the cyclist, light him up")
    assert [(c.target, c.effect) for c in parsed.clauses] == [("cyclist", Effect.BRIGHTEN)]


@pytest.mark.parametrize("text", ["reset", "Reset please", "back to plain fusion", "clear all edits"])
def test_reset(text):
    assert parse_command(text).kind == "reset"


@pytest.mark.parametrize("text", ["undo", "undo that", "revert the last change"])
def test_undo(text):
    assert parse_command(text).kind == "undo"


@pytest.mark.parametrize("text", ["", "   ", "make the car blue", "what is the weather", "brighten the car and "
                                  "paint the bus"])
def test_unknown_commands_say_so(text):
    parsed = parse_command(text)
    assert parsed.kind == "unknown" and not parsed.clauses
    assert parsed.message


def test_parsing_takes_milliseconds():
    texts = ["brighten the car on the left and denoise the rest", "make the heat signature of the truck clearer",
             "what time is it"] * 30
    start = time.perf_counter()
    for text in texts:
        parse_command(text)
    assert (time.perf_counter() - start) / len(texts) < 0.005
