"""Why a referring answer is wrong (core/referring/attribution) and the picture of the wrong answers
(core/referring/gallery): the instance set against the labels, for the classes a text names."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.referring import Referrer
from ris_fusion_ros.core.referring.attribution import (
    attribution_markdown,
    attribution_rows,
    candidate_rows,
    cause,
    has_candidates,
    instance_errors,
)
from ris_fusion_ros.core.referring.gallery import COLUMNS, TILE_WIDTH, error_tile

NAMES = ["person", "bicycle", "car"]
# two people (one far left), one car
TRUTH = np.array([[0, 10, 100, 40, 200], [0, 300, 100, 330, 200], [2, 400, 150, 560, 260]], np.float64)


@pytest.fixture(scope="module")
def referrer() -> Referrer:
    return Referrer()


@pytest.mark.parametrize("text, classes", [
    ("the person next to the car", ("person", "car")),
    ("the car left of the bicycle", ("car", "bicycle")),
    ("the two people on the left", ("person",)),
    ("the one on the left", ()),
    ("the person next to the one on the right", ()),  # a part names no class: every class matters
])
def test_named_classes_include_the_relation_reference(referrer, text, classes):
    assert referrer.parse(text).named_classes() == classes


def test_instance_errors_count_missed_and_extra_objects_of_the_named_classes_only():
    matched_person = [12, 102, 41, 198, 0.9, "person"]
    false_person = [200, 100, 230, 200, 0.6, "person"]  # no labelled person there
    car = [402, 150, 558, 262, 0.8, "car"]
    candidates = [matched_person, false_person, car]
    assert instance_errors(TRUTH, NAMES, candidates, ["person"]) == (1, 1, 0)  # the right-hand person is missed
    assert instance_errors(TRUTH, NAMES, candidates, ["car"]) == (0, 0, 0)
    assert instance_errors(TRUTH, NAMES, candidates, ["bicycle"]) == (0, 0, 0)
    assert instance_errors(TRUTH, NAMES, candidates, []) == (1, 1, 0)  # any class: every class counts
    assert instance_errors(TRUTH, NAMES, [], ["person", "car"]) == (3, 0, 0)
    # one instance cannot match two labelled objects (one to one)
    wide = [[10, 100, 330, 200, 0.9, "person"]]
    assert instance_errors(TRUTH, NAMES, wide, ["person"]) == (2, 1, 0)
    assert instance_errors(np.zeros((0, 5)), NAMES, [car], ["car"]) == (0, 1, 0)
    # the false person is an object another label set names; a matched instance is never counted there
    others = np.array([[0, 198, 98, 232, 202], [0, 10, 100, 40, 200]], np.float64)
    errors = instance_errors(TRUTH, NAMES, candidates, ["person"], others)
    assert errors == (1, 1, 1) and errors.elsewhere == 1
    assert instance_errors(TRUTH, NAMES, candidates, ["person"], others[1:]) == (1, 1, 0)


@pytest.mark.parametrize("correct, missed, extra, expected", [
    (True, 2, 1, ""), (False, 1, 0, "missed"), (False, 0, 2, "extra"), (False, 1, 1, "missed+extra"),
    (False, 0, 0, "selection"),
])
def test_cause(correct, missed, extra, expected):
    assert cause(correct, missed, extra) == expected


def test_candidate_rows_keep_the_named_classes_and_what_was_selected():
    detections = [Detection((1, 2, 3, 4), 0.9, 0, "person"), Detection((5, 6, 7, 8), 0.3, 2, "car"),
                  Detection((9, 9, 20, 20), 0.18, 0, "person")]
    assert candidate_rows(detections, [0, 1, 2], ["person"]) == [[1, 2, 3, 4, 0.9, "person"],
                                                                  [9, 9, 20, 20, 0.18, "person"]]
    assert len(candidate_rows(detections, [0, 1], [])) == 2


def test_rows_and_report_split_the_wrong_answers_by_cause():
    rows = [{"index": 0, "image": "a", "type": "spatial", "correct": False},
            {"index": 1, "image": "a", "type": "spatial", "correct": True},
            {"index": 2, "image": "a", "type": "no_match", "correct": False}]
    predictions = [{"image": "a", "named": ["person"], "candidates": [[12, 102, 41, 198, 0.9, "person"]]},
                   {"image": "a", "named": ["car"], "candidates": [[402, 150, 558, 262, 0.8, "car"]]},
                   {"image": "a", "named": ["bicycle"], "candidates": [[0, 0, 50, 50, 0.4, "bicycle"]]}]
    assert has_candidates(predictions) and not has_candidates([{"image": "a"}])
    out = attribution_rows(rows, predictions, {"a": TRUTH}, NAMES)
    assert "extra_labelled_elsewhere" not in out[0]
    with_others = attribution_rows(rows, predictions, {"a": TRUTH}, NAMES, {"a": np.array([[1, 0, 0, 50, 52]])})
    assert [r["extra_labelled_elsewhere"] for r in with_others] == [0, 0, 1]
    text = attribution_markdown(with_others)
    assert "Of the 1 extra instances in wrong answers (an image's counted once per answer), 1 are objects" in text
    assert [r["cause"] for r in out] == ["missed", "", "extra"]
    assert [(r["missed"], r["extra"]) for r in out] == [(1, 0), (0, 0), (0, 1)]
    text = attribution_markdown(out)
    assert "2 of 2 wrong answers come with an instance set that differs" in text
    assert "| **overall** | 2 | 1 | 1 | 0 | 0 |" in text and "| no_match | 1 | 0 | 1 | 0 | 0 |" in text
    assert attribution_markdown([r | {"cause": ""} for r in out]) == ""


def test_error_tile_draws_the_answer_the_pick_and_a_caption():
    visible = np.full((480, 640, 3), 60, np.uint8)
    row = {"index": 7, "image": "00008N", "type": "spatial", "text": "the leftmost person", "iou": 0.0,
           "cause": "missed"}
    prediction = {"boxes": [[300, 100, 330, 200]], "empty": False, "named": ["person"],
                  "candidates": [[300, 100, 330, 200, 0.7, "person"]]}
    tile = error_tile(visible, row, prediction, [[10, 100, 40, 200]], TRUTH, NAMES)
    height = round(480 * TILE_WIDTH / 640)
    assert tile.shape[1] == TILE_WIDTH and tile.shape[0] > height
    scale = TILE_WIDTH / 640
    truth_edge = tile[round(150 * scale), round(10 * scale)]
    pick_edge = tile[round(150 * scale), round(300 * scale)]
    assert truth_edge[1] > 150 and truth_edge[0] < 100  # green: the labelled answer
    assert pick_edge[0] > 150 and pick_edge[2] > 150 and pick_edge[1] < 150  # magenta: the pick
    assert tile[height:].max() > 0  # the caption
    assert COLUMNS >= 1
