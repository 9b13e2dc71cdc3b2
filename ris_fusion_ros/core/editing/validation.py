"""Parse accuracy on commands written independently of the parser's rules (data/edit_commands)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .commands import STRONG, WEAK, parse_command

VALIDATION_FILE = Path(__file__).resolve().parents[3] / "data" / "edit_commands" / "validation.json"
_ARTICLES = ("the ", "a ", "an ")


def _norm_target(target: str) -> str:
    target = target.lower().strip()
    for article in _ARTICLES:
        if target.startswith(article):
            target = target[len(article):]
    return target


def _strength_name(value: float) -> str | None:
    return {STRONG: "strong", WEAK: "weak"}.get(value)


@dataclass
class ParseScore:
    """How many commands parsed exactly as written down (kind, targets, effects, strengths)."""

    total: int = 0
    correct: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")


def expected_matches(entry: dict, parsed) -> bool:
    if parsed.kind != entry["kind"]:
        return False
    if parsed.kind != "edit":
        return True
    want = sorted((_norm_target(c["target"]), c["effect"], c.get("strength")) for c in entry["clauses"])
    got = sorted((_norm_target(c.target), c.effect.value, _strength_name(c.strength)) for c in parsed.clauses)
    return want == got


def score_commands(path: Path = VALIDATION_FILE) -> ParseScore:
    """Parse every command of ``path`` and compare with the written-down meaning."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["commands"]
    score = ParseScore(total=len(entries))
    for entry in entries:
        parsed = parse_command(entry["text"])
        if expected_matches(entry, parsed):
            score.correct += 1
        else:
            got = [(c.target, c.effect.value, c.strength) for c in parsed.clauses]
            score.failures.append(f"{entry['text']!r}: expected {entry['kind']} {entry.get('clauses', '')}, "
                                  f"got {parsed.kind} {got}")
    return score
