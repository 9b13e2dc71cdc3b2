"""Query + one frame's detections -> the indices it refers to (pure geometry, microseconds).

Orders used by superlatives and ordinals: ``x``/``y`` box centre; ``near`` apparent nearness
(bottom edge lower in the image and taller box = nearer, both as fractions of the image height);
``size`` box area; ``heat`` the 75th percentile of the thermal image inside the box (robust to
the background that a box always contains); ``middle`` distance of the centre to the middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..detection.types import Detection
from .parser import Query

#: "next to": gap between the boxes at most this many times the taller box's height.
NEAR_GAP = 1.0
#: "on"/"riding": overlap at least this fraction of the smaller box.
ON_OVERLAP = 0.2


@dataclass
class Frame:
    """One frame's detections plus lazily computed per-box features."""

    detections: Sequence[Detection]
    size: tuple[int, int]
    thermal: np.ndarray | None = None
    _heat: list[float] | None = field(default=None, repr=False)
    _source: tuple[Frame, list[int]] | None = field(default=None, repr=False)

    def subset(self, indices: Sequence[int]) -> Frame:
        """The frame with only ``detections[indices]``; it shares this frame's thermal readings, which are
        measured once however many subsets ask (the referrer's weighing answers many of them)."""
        indices = list(indices)
        return Frame([self.detections[i] for i in indices], self.size, self.thermal, _source=(self, indices))

    def key(self, index: int, key: str) -> float:
        det = self.detections[index]
        width, height = self.size
        if key == "x":
            return det.center[0]
        if key == "y":
            return det.center[1]
        if key == "near":
            return det.box[3] / height + det.height / height
        if key == "size":
            return det.area
        if key == "middle":
            return -abs(det.center[0] - width / 2.0)
        if key == "heat":
            return self.heat()[index]
        raise ValueError(f"unknown order key {key!r}")

    def heat(self) -> list[float]:
        if self._heat is None and self._source is not None:
            parent, indices = self._source
            everything = parent.heat()
            self._heat = [everything[i] for i in indices]
        if self._heat is None:
            assert self.thermal is not None
            values = []
            for det in self.detections:
                x1, y1, x2, y2 = (int(np.rint(v)) for v in det.box)
                roi = self.thermal[max(0, y1):max(y1 + 1, y2), max(0, x1):max(x1 + 1, x2)]
                values.append(float(np.percentile(roi, 75)) if roi.size else 0.0)
            self._heat = values
        return self._heat


@dataclass
class Outcome:
    """Selected indices (empty = no match), why, and a confidence in [0, 1]."""

    selected: list[int]
    reason: str
    confidence: float = 1.0
    ranked: list[int] = field(default_factory=list)


def _gap(a: Detection, b: Detection) -> float:
    dx = max(0.0, max(a.box[0], b.box[0]) - min(a.box[2], b.box[2]))
    dy = max(0.0, max(a.box[1], b.box[1]) - min(a.box[3], b.box[3]))
    return float(np.hypot(dx, dy))


def _overlap(a: Detection, b: Detection) -> float:
    w = max(0.0, min(a.box[2], b.box[2]) - max(a.box[0], b.box[0]))
    h = max(0.0, min(a.box[3], b.box[3]) - max(a.box[1], b.box[1]))
    return w * h / max(1e-6, min(a.area, b.area))


def _relate(kind: str, cand: Detection, ref: Detection, frame: Frame, ci: int, ri: int) -> float | None:
    """Distance-like cost of ``cand`` standing in ``kind`` to ``ref``; None when it does not."""
    gap = _gap(cand, ref) / max(1.0, max(cand.height, ref.height))
    centre = abs(cand.center[0] - ref.center[0]) / frame.size[0]
    if kind == "left_of":
        return gap + centre if cand.center[0] < ref.center[0] else None
    if kind == "right_of":
        return gap + centre if cand.center[0] > ref.center[0] else None
    if kind == "near":
        return gap if gap <= NEAR_GAP else None
    if kind == "on":
        overlap = _overlap(cand, ref)
        return 1.0 - overlap if overlap >= ON_OVERLAP else None
    if kind == "above":
        return gap if cand.center[1] < ref.box[1] + 0.25 * ref.height else None
    if kind == "below":
        return gap if cand.center[1] > ref.box[3] - 0.25 * ref.height else None
    if kind == "in_front_of":
        return gap if frame.key(ci, "near") > frame.key(ri, "near") else None
    if kind == "behind":
        return gap if frame.key(ci, "near") < frame.key(ri, "near") else None
    if kind == "closest_to":
        return gap
    if kind == "farthest_from":
        return -gap
    raise ValueError(f"unknown relation {kind!r}")


def _names(query: Query) -> str:
    return "/".join(query.category.classes) or "object"


def execute(query: Query, frame: Frame) -> Outcome:
    """Apply one query to a frame."""
    category = query.category
    if not category.known:
        hint = f" (nearest known word '{category.prototype}', similarity {category.similarity:.2f})" \
            if category.prototype else ""
        return Outcome([], f"'{category.phrase}' is not an object category this system knows{hint}", 0.0)
    dets = frame.detections
    cands = [i for i, d in enumerate(dets) if not category.classes or d.class_name in category.classes]
    if not cands:
        return Outcome([], f"no {_names(query)} in this frame", 0.0)
    confidence = category.similarity
    reasons = [f"{len(cands)} {_names(query)}"]
    ranked = cands
    relation_cost: dict[int, float] = {}
    if query.relation is not None:
        reference = query.relation.reference
        needs_order = reference.order_key or reference.ordinal or reference.quantity
        ref_out = execute(reference if needs_order else _as_all(reference), frame)
        if not ref_out.selected:
            return Outcome([], f"reference not found: {ref_out.reason}", 0.0)
        refs = ref_out.selected
        for ci in cands:
            costs = [_relate(query.relation.kind, dets[ci], dets[ri], frame, ci, ri) for ri in refs if ri != ci]
            costs = [c for c in costs if c is not None]
            if costs:
                relation_cost[ci] = min(costs)
        ranked = sorted(relation_cost, key=relation_cost.__getitem__)
        if not ranked:
            return Outcome([], f"no {_names(query)} is {query.relation.kind.replace('_', ' ')} the "
                               f"{_names(reference)}", 0.0)
        confidence *= ref_out.confidence
        reasons.append(f"{len(ranked)} {query.relation.kind.replace('_', ' ')} {len(refs)} "
                       f"{_names(reference)}")
    if query.order_key == "heat" and frame.thermal is None:
        return Outcome([], "a thermal attribute needs the thermal image, and none was given", 0.0)
    selected, note, sure = _choose(query, ranked, frame, relation_cost)
    if not selected:
        return Outcome([], note, 0.0)
    reasons.append(note)
    return Outcome(selected, "; ".join(r for r in reasons if r), confidence * sure, ranked)


def _as_all(query: Query) -> Query:
    from dataclasses import replace

    return replace(query, everything=True)


def _choose(query: Query, ranked: list[int], frame: Frame, relation_cost: dict[int, float]
            ) -> tuple[list[int], str, float]:
    n = len(ranked)
    count = query.quantity
    key = query.order_key
    if key is not None:
        order = sorted(ranked, key=lambda i: frame.key(i, key), reverse=query.descending)
        if key == "middle":
            order = _middle_order(ranked, frame)
        if query.ordinal is not None:
            k = query.ordinal
            if abs(k) > n or k == 0:
                return [], f"asked for number {k} but only {n} candidates", 0.0
            pick = order[k - 1] if k > 0 else order[-1]
            return [pick], f"#{k} by {key}", 1.0
        if query.from_side and count is None and query.plural and not query.everything:
            half = _side_region(query, order, frame)
            if half:
                return half, f"{len(half)} in the {'left' if not query.descending else 'right'} part", 1.0
            return [], "none in that part of the image", 0.0
        take = count or (len(order) if query.everything else 1)
        if take > n:
            return [], f"asked for {take} but only {n} candidates", 0.0
        return order[:take], f"first {take} by {key}{' (descending)' if query.descending else ''}", 1.0
    if count is not None:
        if count > n:
            return [], f"asked for {count} but only {n} candidates", 0.0
        if count == n:
            return list(ranked), f"all {n}", 1.0
        if relation_cost:
            return ranked[:count], f"{count} best by relation", 0.8
        order = sorted(ranked, key=lambda i: frame.key(i, "near"), reverse=True)
        return order[:count], f"{count} most prominent of {n}", 0.5
    if query.plural:
        return list(ranked), f"all {n}", 1.0
    if n == 1:
        return list(ranked), "the only one", 1.0
    if relation_cost:
        first, second = relation_cost[ranked[0]], relation_cost[ranked[1]]
        sure = 1.0 if second - first > 0.2 else 0.7
        return [ranked[0]], "best by relation", sure
    order = sorted(ranked, key=lambda i: frame.key(i, "near"), reverse=True)
    return [order[0]], f"ambiguous: the most prominent of {n}", 1.0 / n


def _middle_order(indices: list[int], frame: Frame) -> list[int]:
    """Middle of the candidates' left-to-right order for 3+, else closest to the image middle."""
    by_x = sorted(indices, key=lambda i: frame.key(i, "x"))
    if len(by_x) >= 3:
        centre = (len(by_x) - 1) / 2.0
        mid_x = frame.size[0] / 2.0
        return sorted(by_x, key=lambda i: (abs(by_x.index(i) - centre),
                                           abs(frame.key(i, "x") - mid_x)))
    return sorted(indices, key=lambda i: frame.key(i, "middle"), reverse=True)


def _side_region(query: Query, order: list[int], frame: Frame) -> list[int]:
    """'The people on the left': those whose centre lies in that half (third for middle/top/bottom)."""
    width, height = frame.size
    key = query.order_key
    if key == "x":
        return [i for i in order if (frame.key(i, "x") > width / 2) == query.descending]
    if key == "y":
        return [i for i in order if (frame.key(i, "y") > height / 2) == query.descending]
    return [i for i in order if abs(frame.key(i, "x") - width / 2) < width / 6]
