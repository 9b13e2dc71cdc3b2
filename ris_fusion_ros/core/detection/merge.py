"""Detection streams of one frame merged into one list: weighted box fusion (Solovyev, Wang and
Gabruseva, "Weighted boxes fusion: ensembling boxes from different object detection models", 2021).

Used for the referring instances (the detector on the fused frame plus the same detector on the registered
thermal frame, for the classes a detector sees best in thermal: people) and for detector ensembles (several
models on one frame, :mod:`.ensemble`). Different views and models miss different objects, so their union
finds more of them; a merged box keeps the mean score over the streams, a stream that did not see it
counting 0, so a box every stream saw outranks a box one stream saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from .nms import box_iou
from .types import Detection

DEFAULT_MERGE_IOU = 0.55  # the WBF paper's default match threshold
SAME_OBJECT_IOU = 0.5  # a labelled box of another label set with this IoU to a same-class box is the same object
#: Classes the thermal stream contributes (held-out MSRS, detector fine-tuned on seven inputs: person AP50
#: infrared 0.906 vs fused 0.849-0.876; bicycles and cars are worse in infrared).
THERMAL_STREAM_CLASSES = ("person",)


def stream_floor(candidate_floor: float, thermal_stream: bool) -> float:
    """How low each stream's detector must look for merged boxes to reach ``candidate_floor``: half of it
    with a second stream (a merged box keeps the mean score of its two streams), else the floor itself."""
    return candidate_floor / 2 if thermal_stream else candidate_floor


def merge_streams(primary: Sequence[Detection], secondary: Sequence[Detection],
                  classes: Sequence[str] = THERMAL_STREAM_CLASSES,
                  iou_threshold: float = DEFAULT_MERGE_IOU) -> list[Detection]:
    """``primary`` with its detections of ``classes`` fused with ``secondary``'s, highest score first.

    Detections of other classes pass from ``primary`` unchanged (``secondary``'s are ignored). Pairs of
    the same class with IoU >= ``iou_threshold`` (greedy, best IoU first, each box used once) become one
    box: the score-weighted mean box, the mean score and the primary's instance mask (or the secondary's
    if the primary has none). Unpaired boxes of ``classes`` keep half their score.
    """
    wanted = set(classes)
    out = [d for d in primary if d.class_name not in wanted]
    out += fuse_by_class([primary, secondary], wanted, iou_threshold)
    return sorted(out, key=lambda d: -d.score)


def fuse_by_class(streams: Sequence[Sequence[Detection]], classes: Iterable[str],
                  iou_threshold: float = DEFAULT_MERGE_IOU) -> list[Detection]:
    """:func:`fuse_streams` applied to each of ``classes`` separately (detections of other classes dropped)."""
    out: list[Detection] = []
    for name in sorted(set(classes)):
        out += fuse_streams([[d for d in stream if d.class_name == name] for stream in streams], iou_threshold)
    return out


def fuse_streams(streams: Sequence[Sequence[Detection]], iou_threshold: float = DEFAULT_MERGE_IOU
                 ) -> list[Detection]:
    """Same-class detections of several streams fused: pairs of boxes from different streams with IoU >=
    ``iou_threshold`` join, best IoU first, as long as a group holds at most one box per stream. A group
    becomes the score-weighted mean box with the summed score over the number of streams, the class and
    mask of its box from the earliest stream (or the first mask any member has)."""
    items = [(k, d) for k, stream in enumerate(streams) for d in stream]
    count = max(1, len(streams))
    if not items:
        return []
    boxes = np.array([d.box for _, d in items], np.float64)
    iou = box_iou(boxes, boxes)
    pairs = sorted(((float(iou[i, j]), i, j) for i in range(len(items)) for j in range(i + 1, len(items))
                    if items[i][0] != items[j][0] and iou[i, j] >= iou_threshold), key=lambda t: -t[0])
    group = list(range(len(items)))  # each box's group: the index of its first member
    members: dict[int, list[int]] = {i: [i] for i in range(len(items))}
    for _, i, j in pairs:
        a, b = group[i], group[j]
        if a == b or {items[m][0] for m in members[a]} & {items[m][0] for m in members[b]}:
            continue
        a, b = min(a, b), max(a, b)
        for m in members.pop(b):
            group[m] = a
            members[a].append(m)
    out = []
    for indices in members.values():
        indices = sorted(indices, key=lambda m: items[m][0])  # earliest stream first
        dets = [items[m][1] for m in indices]
        weights = np.array([d.score for d in dets], np.float64)
        box = (boxes[indices] * weights[:, None]).sum(axis=0) / max(float(weights.sum()), 1e-9)
        mask = next((d.mask for d in dets if d.mask is not None), None)
        out.append(replace(dets[0], box=tuple(float(v) for v in box), score=float(weights.sum()) / count, mask=mask))
    return out


def extra_objects(truth: np.ndarray, others: Sequence[np.ndarray], iou: float = SAME_OBJECT_IOU) -> np.ndarray:
    """Label rows ``class_id, x1, y1, x2, y2`` of ``others`` (other annotations of the same image) that match
    no same-class row of ``truth`` nor an earlier extra one, so an object two other sets name is added once."""
    kept = np.asarray(truth, np.float64).reshape(-1, 5)
    extra: list[np.ndarray] = []
    for rows in others:
        for row in np.asarray(rows, np.float64).reshape(-1, 5):
            same = kept[kept[:, 0] == row[0]]
            if len(same) and box_iou(row[None, 1:], same[:, 1:]).max() >= iou:
                continue
            extra.append(row)
            kept = np.vstack([kept, row])
    return np.asarray(extra, np.float64).reshape(-1, 5)
