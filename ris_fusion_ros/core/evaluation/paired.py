"""Paired comparison of two settings on the same items (expressions, ground-truth objects): how many
items only one of them gets right, and whether that split could be chance.

The test is McNemar's exact form: under "no difference" an item that changed is equally likely to
have changed either way, so the wins among the changed items are Binomial(changed, 1/2); the two-sided
p-value doubles the smaller tail (McNemar 1947; exact binomial form as in Fagerland, Lydersen and
Laake, BMC Med. Res. Methodol. 2013). With few images a difference of a few items is not evidence, and
this says so in one number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedComparison:
    """``wins``: items the new setting gets right and the reference does not; ``losses`` the reverse."""

    wins: int
    losses: int
    items: int

    @property
    def p_value(self) -> float:
        return sign_test_p(self.wins, self.losses)

    def describe(self) -> str:
        return f"+{self.wins} / -{self.losses} of {self.items} (p = {self.p_value:.3g})"


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign-test (McNemar) p-value of ``wins`` vs ``losses``; 1.0 when nothing changed."""
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0, got {wins} and {losses}")
    changed = wins + losses
    if changed == 0:
        return 1.0
    tail = sum(math.comb(changed, k) for k in range(min(wins, losses) + 1)) / 2.0 ** changed
    return min(1.0, 2.0 * tail)


def compare(reference: Sequence[bool], new: Sequence[bool]) -> PairedComparison:
    """Wins and losses of ``new`` against ``reference``, item by item (same order, same length)."""
    if len(reference) != len(new):
        raise ValueError(f"paired outcomes need the same items: {len(reference)} vs {len(new)}")
    a = np.asarray(reference, bool)
    b = np.asarray(new, bool)
    return PairedComparison(int((b & ~a).sum()), int((a & ~b).sum()), len(a))


def compare_runs(reference: Sequence[dict], rows: Sequence[dict]) -> dict[str, PairedComparison]:
    """Per-expression rows of two ``eval refer`` runs on the same expression file ("index", "image",
    "text", "type", "correct" as in ``per_expression.csv``; "correct" may be the CSV text "True"/"False")
    compared overall and per type; ValueError when the runs are not on the same expressions."""
    if len(reference) != len(rows):
        raise ValueError(f"the runs have {len(reference)} and {len(rows)} expressions; compare runs of one file")
    for a, b in zip(reference, rows, strict=True):
        if (str(a["image"]), str(a["text"])) != (str(b["image"]), str(b["text"])):
            raise ValueError(f"expression {b['index']} differs between the runs: {a['image']} {a['text']!r} vs "
                             f"{b['image']} {b['text']!r}")

    def correct(row: dict) -> bool:
        value = row["correct"]
        return value if isinstance(value, bool) else str(value).strip().lower() == "true"

    kinds = ["overall", *sorted({str(r.get("type", "all")) for r in rows})]
    out = {}
    for kind in kinds:
        keep = [i for i, r in enumerate(rows) if kind == "overall" or str(r.get("type", "all")) == kind]
        out[kind] = compare([correct(reference[i]) for i in keep], [correct(rows[i]) for i in keep])
    return out
