"""mAP50 and mAP50-95 with the reference COCO evaluator (pycocotools), never hand-rolled.

Ground truth and detections are collected per image in pixel boxes; class names decide the
mapping between a detector's classes and the data set's (a detector class that the data set
does not label is ignored, as are data-set classes outside ``categories``).
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from .types import Detection

#: Paired-bootstrap draws for the interval of an mAP50 difference (``eval detect --bootstrap``).
DEFAULT_RESAMPLES = 1000


@dataclass
class CocoAccumulator:
    """Builds the COCO ground-truth and result lists for one (input, detector) combination."""

    categories: Sequence[str]
    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    # pycocotools' per-image matching of the lists above, made once (see _evaluated); reset by add_image
    _matched: Any = field(default=None, init=False, repr=False, compare=False)

    def add_image(self, image_id: int, width: int, height: int, gt: np.ndarray, gt_names: Sequence[str],
                  detections: Sequence[Detection]) -> None:
        """``gt`` is (N, 5) ``class_id, x1, y1, x2, y2`` with ids into ``gt_names``."""
        self._matched = None
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


def _load_coco():
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as exc:
        raise ConfigError("detection evaluation needs pycocotools: pip install pycocotools==2.0.11") from exc
    return COCO, COCOeval


def _evaluated(acc: CocoAccumulator) -> Any:
    """pycocotools' COCOeval (bbox, all areas, maxDets 100) after ``evaluate()``: per image and category
    matches, before they are accumulated into precision-recall tables. Made once per accumulator content:
    the scores and the bootstrap read the same matching."""
    if acc._matched is not None:
        return acc._matched
    COCO, COCOeval = _load_coco()
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
    acc._matched = ev
    return ev


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]  # -1: a category without ground truth
    return float(valid.mean()) if valid.size else float("nan")


def evaluate(acc: CocoAccumulator) -> CocoScores:
    """Run pycocotools' COCOeval (bbox, all areas, maxDets 100) and read its precision table."""
    ev = _evaluated(acc)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [iou thresholds, recall points, categories, areas, max dets]
    ap50 = {n: _mean_valid(precision[0, :, k, 0, -1]) for k, n in enumerate(acc.categories)}
    ap = {n: _mean_valid(precision[:, :, k, 0, -1]) for k, n in enumerate(acc.categories)}
    return CocoScores(float(ev.stats[1]), float(ev.stats[0]), ap50, ap, len(acc.images), len(acc.annotations),
                      len(acc.results))


def bootstrap_map50(accs: Sequence[CocoAccumulator], resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                    draws: np.ndarray | None = None) -> np.ndarray:
    """mAP50 of every accumulator on ``resamples`` image sets drawn with replacement, the *same* draws for
    all of them (a paired bootstrap over images, Efron & Tibshirani 1993): shape (resamples, len(accs)).

    pycocotools matches detections to ground truth once per image; each draw then lays those per-image
    results out in the drawn order (an image drawn twice counts twice) and lets COCOeval.accumulate build
    the precision-recall curve, so every figure is the library's own, on another image set. ``draws``
    (resamples x images, indices into the images) replaces the random draws.
    """
    if resamples < 1:
        raise ConfigError(f"the bootstrap needs at least one resample, got {resamples}")
    if not accs:
        return np.zeros((resamples, 0))
    ids = [im["id"] for im in accs[0].images]
    if any([im["id"] for im in a.images] != ids for a in accs[1:]):
        raise ConfigError("a paired bootstrap needs every accumulator to hold the same images in the same order")
    if draws is None:
        draws = np.random.default_rng(seed).integers(0, len(ids), size=(resamples, len(ids)))
    draws = np.asarray(draws, np.int64).reshape(len(draws), -1)
    resamples = len(draws)
    out = np.zeros((resamples, len(accs)))
    for column, acc in enumerate(accs):
        matched = _evaluated(acc)
        ev = copy.copy(matched)  # the draws replace params and evalImgs on this copy, never on the cached one
        params = matched._paramsEval  # the parameters evaluate() ran with: the layout of ev.evalImgs
        n_images, n_areas = len(params.imgIds), len(params.areaRng)
        all_area = params.areaRngLbl.index("all")
        first = [k * n_areas * n_images + all_area * n_images for k in range(len(params.catIds))]
        # only the IoU 0.5 row of each image's matches: accumulate() makes one curve per row
        per_category = [[_at_iou50(e) for e in ev.evalImgs[start:start + n_images]] for start in first]
        drawn = copy.deepcopy(params)
        drawn.areaRng, drawn.areaRngLbl = [params.areaRng[all_area]], ["all"]
        drawn.maxDets = [params.maxDets[-1]]
        drawn.iouThrs = params.iouThrs[:1]  # 0.5
        drawn.imgIds = list(range(draws.shape[1]))  # positions in the draw: an image drawn twice counts twice
        ev.params = ev._paramsEval = drawn
        for row, draw in enumerate(draws):
            ev.evalImgs = [images[i] for images in per_category for i in draw]
            with contextlib.redirect_stdout(io.StringIO()):
                ev.accumulate()
            precision = ev.eval["precision"]
            out[row, column] = np.nanmean([_mean_valid(precision[0, :, k, 0, 0]) for k in range(len(params.catIds))])
    return out


def _at_iou50(image: dict | None) -> dict | None:
    if image is None:  # no ground truth and no detection of this category in this image
        return None
    return image | {"dtMatches": image["dtMatches"][:1], "dtIgnore": image["dtIgnore"][:1],
                    "gtMatches": image["gtMatches"][:1]}


@dataclass(frozen=True)
class MapDifference:
    """mAP50 of input A minus input B on the same images, with its paired-bootstrap spread."""

    delta: float  # on all images
    low: float  # 2.5th percentile over the resamples
    high: float  # 97.5th percentile
    not_better: float  # share of resamples where A's mAP50 <= B's (one-sided bootstrap p-value of "A > B")
    resamples: int

    def describe(self) -> str:
        return (f"{self.delta:+.4f} (95 % interval {self.low:+.4f} to {self.high:+.4f}; "
                f"not ahead in {self.not_better:.1%} of {self.resamples} resamples)")


def map50_difference(delta: float, samples_a: np.ndarray, samples_b: np.ndarray) -> MapDifference:
    """``delta`` (A - B on all images) with the interval of the per-resample differences."""
    diff = np.asarray(samples_a, np.float64) - np.asarray(samples_b, np.float64)
    low, high = np.percentile(diff, [2.5, 97.5])
    return MapDifference(float(delta), float(low), float(high), float(np.mean(diff <= 0.0)), int(diff.size))
