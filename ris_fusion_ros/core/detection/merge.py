"""Two detection streams of one frame merged into one list: weighted box fusion (Solovyev, Wang and
Gabruseva, "Weighted boxes fusion: ensembling boxes from different object detection models", 2021).

Used for the referring instances: the detector on the fused frame plus the same detector on the
(registered) thermal frame, for the classes a detector sees best in thermal (people). The two views
miss different people, so their union finds more of them; boxes both streams agree on keep the mean
score, boxes only one stream found keep half of theirs (the other stream said 0), so a box seen twice
outranks a box seen once.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    for name in sorted(wanted):
        mine = [d for d in primary if d.class_name == name]
        theirs = [d for d in secondary if d.class_name == name]
        out += _fuse_class(mine, theirs, iou_threshold)
    return sorted(out, key=lambda d: -d.score)


def _fuse_class(mine: list[Detection], theirs: list[Detection], iou_threshold: float) -> list[Detection]:
    if not mine or not theirs:
        return [replace(d, score=d.score / 2) for d in mine + theirs]
    iou = box_iou(np.array([d.box for d in mine], np.float64), np.array([d.box for d in theirs], np.float64))
    pairs = sorted(((float(iou[i, j]), i, j) for i in range(len(mine)) for j in range(len(theirs))
                    if iou[i, j] >= iou_threshold), reverse=True)
    used_mine: set[int] = set()
    used_theirs: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i in used_mine or j in used_theirs:
            continue
        used_mine.add(i)
        used_theirs.add(j)
        a, b = mine[i], theirs[j]
        weights = a.score + b.score
        box = tuple(float(v) for v in (np.array(a.box) * a.score + np.array(b.box) * b.score) / max(weights, 1e-9))
        out.append(replace(a, box=box, score=weights / 2, mask=a.mask if a.mask is not None else b.mask))
    out += [replace(d, score=d.score / 2) for i, d in enumerate(mine) if i not in used_mine]
    out += [replace(d, score=d.score / 2) for j, d in enumerate(theirs) if j not in used_theirs]
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
