"""Out-of-fold referring score: how a detector recipe refers on expressions of images its model never saw,
without touching the held-out expressions, so a change can be chosen before the one held-out measurement.

The training images are split into two folds; a model trained on one fold answers the other fold's expressions.
The score weighs each expression type's accuracy by its count in a reference set (the held-out set: types only,
never its outcomes), since template expressions come in another mix of types than hand-written ones. No-match
expressions are split into those naming a class of the data set ("the car" where there is none, which a false
detection can answer) and those naming another class ("the dog", which only the parser can get wrong), and the
two accuracies are mixed by their shares in the reference set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

NO_MATCH = "no_match"


def names_a_class(text: str, classes: Iterable[str], named: Callable[[str], Sequence[str]]) -> bool:
    """Whether ``text`` names one of ``classes``; ``named(text)`` gives the classes a text names (the parser's)."""
    return bool(set(named(text)) & set(classes))


@dataclass(frozen=True)
class TypeMix:
    """Expression types and their weights (counts in the reference set), and the share of the reference's
    no-match expressions that name a class of the data set."""

    weights: dict[str, float]
    no_match_in_class_share: float

    @classmethod
    def of(cls, reference: Sequence[dict], classes: Iterable[str],
           named: Callable[[str], Sequence[str]]) -> TypeMix:
        weights: dict[str, float] = {}
        for e in reference:
            kind = str(e.get("type", "all"))
            weights[kind] = weights.get(kind, 0) + 1
        no_match = [e for e in reference if e.get("type") == NO_MATCH]
        share = sum(names_a_class(e["text"], classes, named) for e in no_match) / len(no_match) if no_match else 0.0
        return cls(weights, share)


@dataclass(frozen=True)
class Outcome:
    """One answered expression: its type, whether a no-match names a class of the data set, right or wrong."""

    kind: str
    in_class: bool
    correct: bool


@dataclass(frozen=True)
class CrossFoldScore:
    weighted: float  # per-type accuracy weighed by the reference mix (nan without a reference)
    raw: float  # plain accuracy over every expression
    per_type: dict[str, float]  # no_match: the reference's mix of in-class and other no-matches
    no_match_in_class: float  # no-match accuracy on texts naming a class of the data set
    no_match_other: float
    counts: dict[str, int]


def _mean(values: Sequence[bool]) -> float:
    return sum(values) / len(values) if values else float("nan")


def cross_fold_score(outcomes: Sequence[Outcome], mix: TypeMix | None) -> CrossFoldScore:
    """Accuracy per type, raw and weighed by ``mix`` (types the outcomes lack are left out of the weighing)."""
    by_kind: dict[str, list[bool]] = {}
    for o in outcomes:
        by_kind.setdefault(o.kind, []).append(o.correct)
    in_class = _mean([o.correct for o in outcomes if o.kind == NO_MATCH and o.in_class])
    other = _mean([o.correct for o in outcomes if o.kind == NO_MATCH and not o.in_class])
    per_type = {kind: _mean(values) for kind, values in sorted(by_kind.items())}
    if NO_MATCH in per_type and mix is not None and not (math.isnan(in_class) or math.isnan(other)):
        per_type[NO_MATCH] = mix.no_match_in_class_share * in_class + (1 - mix.no_match_in_class_share) * other
    weighted = float("nan")
    if mix is not None:
        used = {k: w for k, w in mix.weights.items() if k in per_type}
        total = sum(used.values())
        weighted = sum(w * per_type[k] for k, w in used.items()) / total if total else float("nan")
    return CrossFoldScore(weighted, _mean([o.correct for o in outcomes]), per_type, in_class, other,
                          {k: len(v) for k, v in by_kind.items()})


def score_markdown(score: CrossFoldScore, mix: TypeMix | None) -> str:
    """The score as a markdown table, one row per type with its count and weight."""
    lines = [f"**Weighted acc@0.5 {score.weighted:.3f}**, raw {score.raw:.3f}; no-match naming a class of the data "
             f"set {score.no_match_in_class:.3f}, naming another {score.no_match_other:.3f}"
             + (f" (mixed {mix.no_match_in_class_share:.2f} / {1 - mix.no_match_in_class_share:.2f} as in the "
                "reference set)" if mix else ""), "", "| type | expressions | acc@0.5 | weight |", "|---|---|---|---|"]
    for kind, value in score.per_type.items():
        weight = mix.weights.get(kind, 0) if mix else "-"
        lines.append(f"| {kind} | {score.counts[kind]} | {value:.3f} | {weight} |")
    return "\n".join(lines)
