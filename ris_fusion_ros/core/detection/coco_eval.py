"""mAP50 and mAP50-95 with the reference COCO evaluator (pycocotools), never hand-rolled.

Ground truth and detections are collected per image in pixel boxes; class names decide the
mapping between a detector's classes and the data set's (a detector class that the data set
does not label is ignored, as are data-set classes outside ``categories``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .types import Detection


@dataclass
class CocoAccumulator:
    """Builds the COCO ground-truth and result lists for one (input, detector) combination."""

    categories: Sequence[str]
    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)

    def add_image(self, image_id: int, width: int, height: int, gt: np.ndarray, gt_names: Sequence[str],
                  detections: Sequence[Detection]) -> None:
        """``gt`` is (N, 5) ``class_id, x1, y1, x2, y2`` with ids into ``gt_names``."""
        self.images.append({"id": image_id, "width": width, "height": height})
        for cls, x1, y1, x2, y2 in np.asarray(gt, dtype=np.float64).reshape(-1, 5):
            name = gt_names[int(cls)] if int(cls) < len(gt_names) else None
            if name not in self.categories:
                continue
            w, h = x2 - x1, y2 - y1
            self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id, "iscrowd": 0,
                                     "category_id": self.categories.index(name) + 1,
                                     "bbox": [float(x1), float(y1), float(w), float(h)], "area": float(w * h)})
        for det in detections:
            if det.class_name not in self.categories:
                continue
            x1, y1, x2, y2 = det.box
            self.results.append({"image_id": image_id, "category_id": self.categories.index(det.class_name) + 1,
                                 "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(det.score)})


@dataclass
class CocoScores:
    map50: float
    map50_95: float
    ap50: dict[str, float]  # per category; NaN where the data has no object of it
    ap50_95: dict[str, float]
    n_images: int
    n_objects: int
    n_detections: int


def evaluate(acc: CocoAccumulator) -> CocoScores:
    """Run pycocotools' COCOeval (bbox, all areas, maxDets 100) and read its precision table."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as exc:
        raise ConfigError("detection evaluation needs pycocotools: pip install pycocotools==2.0.11") from exc
    if not acc.images:
        raise ConfigError("no images to evaluate")
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(acc.categories)]
    gt = COCO()
    gt.dataset = {"images": acc.images, "annotations": acc.annotations, "categories": cats}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(acc.results) if acc.results else COCO()
        if not acc.results:
            dt.dataset = {"images": acc.images, "annotations": [], "categories": cats}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [iou thresholds, recall points, categories, areas, max dets]

    def mean_valid(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(valid.mean()) if valid.size else float("nan")

    ap50 = {n: mean_valid(precision[0, :, k, 0, -1]) for k, n in enumerate(acc.categories)}
    ap = {n: mean_valid(precision[:, :, k, 0, -1]) for k, n in enumerate(acc.categories)}
    return CocoScores(float(ev.stats[1]), float(ev.stats[0]), ap50, ap, len(acc.images), len(acc.annotations),
                      len(acc.results))
