"""Referring over uncertain detections: the answer that is most probable over which of them are real.

A hard score floor answers a text on one set of instances, so a false box just above it or a real object
just below it changes the answer outright ("the leftmost person" becomes the false box). With a score
margin ``m`` the detections of the classes the text names that score within ``min_score +- m`` are
uncertain: each is present with probability rising linearly across the band (0.5 at ``min_score``). The
text is answered on every combination of them and the answer (the selected set, or no match) with the
largest total probability wins; ties go to the hard floor's own answer. Detections of other classes cannot
change the answer and are taken as the hard floor takes them. This is the maximum a-posteriori answer under
independent detections whose scores are read as probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from .parser import Query
from .select import Frame, Outcome, execute

#: At most this many uncertain detections are enumerated (2**6 = 64 answers of ~0.05 ms each); the others,
#: the farthest from an even chance, are taken as the hard floor takes them.
MAX_UNCERTAIN = 6


def validate_margin(margin: float) -> float:
    """``margin`` as a float within [0, 0.5] (0 = off: the hard floor)."""
    margin = float(margin)
    if not 0.0 <= margin <= 0.5:
        raise ConfigError(f"score_margin must be within [0, 0.5], got {margin}")
    return margin


def presence(score: float, min_score: float, margin: float) -> float:
    """The probability that a detection of ``score`` is a real object: 0 below ``min_score - margin``, 1 from
    ``min_score + margin``, linear between (``margin`` > 0)."""
    return min(1.0, max(0.0, (float(score) - (min_score - margin)) / (2.0 * margin)))


@dataclass
class Weighed:
    """The winning answer (indices into the frame's detections), its total probability, the number of
    instance sets answered and of uncertain detections enumerated."""

    outcome: Outcome
    share: float
    worlds: int
    uncertain: int

    def note(self) -> str:
        if self.uncertain == 0:
            return ""
        return (f"; weighed {self.worlds} instance sets of {self.uncertain} uncertain detection(s): "
                f"this answer in {self.share:.0%}")


def weigh(query: Query, frame: Frame, eligible: Sequence[int], min_score: float, margin: float) -> Weighed:
    """The most probable answer of ``query`` over ``frame.detections[eligible]`` (those scoring >=
    ``min_score - margin``; the caller's thermal check already applied)."""
    dets = frame.detections
    named = set(query.named_classes())

    def matters(i: int) -> bool:
        return not named or dets[i].class_name in named

    odds = {i: presence(dets[i].score, min_score, margin) for i in eligible}
    uncertain = sorted((i for i in eligible if matters(i) and 0.0 < odds[i] < 1.0),
                       key=lambda i: (abs(odds[i] - 0.5), i))
    enumerated = uncertain[:MAX_UNCERTAIN]
    fixed = [i for i in eligible if i not in enumerated and dets[i].score >= min_score]
    hard_bits = sum(1 << j for j, u in enumerate(enumerated) if dets[u].score >= min_score)  # the hard floor's set
    totals: dict[tuple[int, ...], float] = {}
    best: dict[tuple[int, ...], tuple[float, Outcome]] = {}
    hard_key: tuple[int, ...] = ()
    for bits in range(1 << len(enumerated)):
        chosen, probability = [], 1.0
        for j, u in enumerate(enumerated):
            present = bool(bits >> j & 1)
            probability *= odds[u] if present else 1.0 - odds[u]
            if present:
                chosen.append(u)
        outcome = _answer(query, frame, sorted(fixed + chosen))
        key = tuple(sorted(outcome.selected))
        totals[key] = totals.get(key, 0.0) + probability
        if key not in best or probability > best[key][0]:
            best[key] = (probability, outcome)
        if bits == hard_bits:
            hard_key = key
    top = max(totals.values())
    winner = hard_key if totals[hard_key] >= top - 1e-12 else max(totals, key=totals.__getitem__)
    return Weighed(best[winner][1], totals[winner], 1 << len(enumerated), len(enumerated))


def _answer(query: Query, frame: Frame, world: Sequence[int]) -> Outcome:
    """``query`` on ``frame.detections[world]``, indices mapped back to the frame's."""
    outcome = execute(query, frame.subset(world))
    outcome.selected = [world[i] for i in outcome.selected]
    outcome.ranked = [world[i] for i in outcome.ranked]
    return outcome
