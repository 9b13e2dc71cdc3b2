"""Scoring a referring prediction: IoU of box unions, accuracy@0.5, no-match accuracy, per type.

The IoU of two box *sets* is computed on their rasterised unions (pixel grid of the image), so
"the two people on the left" is right only when both people, and nothing else, are selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def box_union_iou(pred: Sequence[Sequence[float]], truth: Sequence[Sequence[float]],
                  size: tuple[int, int]) -> float:
    """IoU of the union of ``pred`` boxes with the union of ``truth`` boxes; two empty sets give 1."""
    if not pred and not truth:
        return 1.0
    if not pred or not truth:
        return 0.0
    boxes = [*pred, *truth]
    x0 = int(np.floor(min(b[0] for b in boxes)))
    y0 = int(np.floor(min(b[1] for b in boxes)))
    x1 = int(np.ceil(max(b[2] for b in boxes)))
    y1 = int(np.ceil(max(b[3] for b in boxes)))
    width, height = max(1, x1 - x0), max(1, y1 - y0)
    del size  # the crop of the bounding region is enough; kept for the signature's clarity

    def raster(group: Sequence[Sequence[float]]) -> np.ndarray:
        grid = np.zeros((height, width), bool)
        for b in group:
            r1, r2, c1, c2 = (int(np.rint(v)) for v in (b[1], b[3], b[0], b[2]))
            grid[r1 - y0:r2 - y0, c1 - x0:c2 - x0] = True
        return grid

    a, b = raster(pred), raster(truth)
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b)) / union if union else 0.0


@dataclass
class Scored:
    """One scored expression."""

    kind: str
    iou: float
    truth_empty: bool
    pred_empty: bool

    @property
    def correct(self) -> bool:
        if self.truth_empty:
            return self.pred_empty
        return not self.pred_empty and self.iou >= 0.5


def summarise(rows: Sequence[Scored]) -> dict[str, dict[str, float]]:
    """Overall and per-type figures: n, acc@0.5 (over all), mIoU (over expressions with a target),
    no-match accuracy (over expressions without one), false no-match rate."""

    def figures(group: Sequence[Scored]) -> dict[str, float]:
        positive = [r for r in group if not r.truth_empty]
        negative = [r for r in group if r.truth_empty]
        return {
            "n": len(group),
            "n_target": len(positive),
            "n_no_match": len(negative),
            "acc50": float(np.mean([r.correct for r in group])) if group else float("nan"),
            "acc50_target": float(np.mean([r.correct for r in positive])) if positive else float("nan"),
            "miou": float(np.mean([r.iou for r in positive])) if positive else float("nan"),
            "no_match_acc": float(np.mean([r.pred_empty for r in negative])) if negative else float("nan"),
            "false_no_match": float(np.mean([r.pred_empty for r in positive])) if positive else float("nan"),
        }

    out = {"overall": figures(rows)}
    for kind in sorted({r.kind for r in rows}):
        out[kind] = figures([r for r in rows if r.kind == kind])
    return out
