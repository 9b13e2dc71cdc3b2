"""Detection accuracy on fused inputs: one detector run per (input image, detector), COCO mAP.

Inputs are the visible image, the infrared image (gray, replicated to 3 channels) and the
fused images of fusion methods. Fused images come from a folder written by
``ris-fusion eval fusion --save-fused`` (``<dir>/fused/<method>/<pair_id>.png``) when present,
else the method fuses the pair on the fly; how many of each is recorded.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.datasets import Pair, PairDataset, PairRecord
from ..data.images import read_visible
from ..errors import ConfigError, DataError
from ..evaluation.paired import compare
from .coco_eval import (
    DEFAULT_RESAMPLES,
    CocoAccumulator,
    CocoScores,
    MapDifference,
    bootstrap_map50,
    evaluate,
    map50_difference,
)
from .detector import Detector
from .nms import box_iou
from .types import OPERATING_SCORE, Detection

SOURCE_INPUTS = ("visible", "infrared")
CATEGORIES = ("person", "bicycle", "car")
EVAL_CONF = 0.001  # YOLOv5 validation settings: keep low-score boxes so the PR curve is complete
EVAL_IOU = 0.6


@dataclass
class InputSource:
    """One input kind; ``image(pair)`` returns uint8 RGB or gray."""

    name: str
    fused_dir: Path | None = None
    method_factory: Callable[[], object] | None = None
    read: int = 0
    fused_on_the_fly: int = 0
    _method: object | None = field(default=None, repr=False)

    def image(self, pair: Pair) -> np.ndarray:
        if self.name == "visible":
            return pair.vis
        if self.name == "infrared":
            return pair.ir
        if self.fused_dir is not None:
            path = self.fused_dir / f"{pair.pair_id}.png"
            if path.is_file():
                image = read_visible(path)
                if image.shape[:2] != pair.ir.shape:
                    raise DataError(f"{path} is {image.shape[1]}x{image.shape[0]} but pair {pair.pair_id} is "
                                    f"{pair.ir.shape[1]}x{pair.ir.shape[0]}")
                self.read += 1
                return image
        if self.method_factory is None:
            raise ConfigError(f"no fused image of '{self.name}' for {pair.pair_id} and no way to fuse it")
        if self._method is None:
            self._method = self.method_factory()
        self.fused_on_the_fly += 1
        return self._method.fuse(pair.ir, pair.vis)  # type: ignore[attr-defined]

    @property
    def provenance(self) -> str:
        if self.name in SOURCE_INPUTS:
            return "source image"
        parts = []
        if self.read:
            parts.append(f"{self.read} read from {self.fused_dir}")
        if self.fused_on_the_fly:
            parts.append(f"{self.fused_on_the_fly} fused on the fly")
        return "; ".join(parts)


@dataclass
class DetectionRow:
    input: str
    detector: str
    scores: CocoScores
    provenance: str
    found: list[bool] = field(default_factory=list)  # per ground-truth object: found at OPERATING_SCORE
    accumulator: CocoAccumulator | None = field(default=None, repr=False)  # for the paired bootstrap

    def as_dict(self) -> dict[str, object]:
        s = self.scores
        row: dict[str, object] = {"input": self.input, "detector": self.detector, "images": s.n_images,
                                  "objects": s.n_objects, "detections": s.n_detections,
                                  "mAP50": round(s.map50, 4), "mAP50_95": round(s.map50_95, 4)}
        for name, value in s.ap50.items():
            row[f"AP50_{name}"] = round(value, 4)
        row[f"found_at_{OPERATING_SCORE:g}"] = sum(self.found)
        row["fused_images"] = self.provenance
        return row


def evaluate_inputs(dataset: PairDataset, inputs: Sequence[InputSource], detectors: Sequence[Detector], *,
                    records: Sequence[PairRecord] | None = None, categories: Sequence[str] = CATEGORIES,
                    progress: Callable[[Sequence], Sequence] = lambda items: items) -> list[DetectionRow]:
    """Run every detector on every input of every pair (``records``: a part of ``dataset``, default all of
    it); COCO-evaluate each combination."""
    names = dataset.class_names
    missing = [c for c in categories if c not in names]
    if missing:
        raise ConfigError(f"data set {dataset.root} has no label class {missing} (classes: {names})")
    accs = {(i.name, d.name): CocoAccumulator(list(categories)) for i in inputs for d in detectors}
    found: dict[tuple[str, str], list[bool]] = {key: [] for key in accs}
    records = dataset.records if records is None else records
    if not records:
        raise ConfigError("no pairs to evaluate")
    for image_id, record in enumerate(progress(records), start=1):
        pair = dataset.load(record)
        if record.label_path is None:
            raise DataError(f"no ground-truth label file for pair {record.pair_id} under {dataset.root}")
        height, width = pair.ir.shape
        for source in inputs:
            image = source.image(pair)
            for detector in detectors:
                dets = detector.detect(image)
                accs[(source.name, detector.name)].add_image(image_id, width, height, pair.boxes, names, dets)
                found[(source.name, detector.name)] += found_objects(pair.boxes, names, dets, categories,
                                                                     OPERATING_SCORE)
    return [DetectionRow(i.name, d.name, evaluate(accs[(i.name, d.name)]), i.provenance, found[(i.name, d.name)],
                         accs[(i.name, d.name)])
            for d in detectors for i in inputs]


def write_summary(rows: Sequence[DetectionRow], path: Path) -> Path:
    dicts = [r.as_dict() for r in rows]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dicts[0]))
        writer.writeheader()
        writer.writerows(dicts)
    return path


BASELINES = ("max", "average")


def map50_intervals(rows: Sequence[DetectionRow], ours: str = "risfusenet", resamples: int = DEFAULT_RESAMPLES,
                    seed: int = 0) -> dict[tuple[str, str], MapDifference]:
    """(detector, input) -> mAP50 of ``ours`` minus that input's, with its paired-bootstrap interval over
    images (:func:`~.coco_eval.bootstrap_map50`; one set of draws per detector, shared by all its inputs)."""
    out: dict[tuple[str, str], MapDifference] = {}
    for detector in dict.fromkeys(r.detector for r in rows):
        group = [r for r in rows if r.detector == detector and r.accumulator is not None]
        mine = next((r for r in group if r.input == ours), None)
        if mine is None or len(group) < 2:
            continue
        samples = bootstrap_map50([r.accumulator for r in group], resamples, seed)
        column = {r.input: k for k, r in enumerate(group)}
        for k, r in enumerate(group):
            if r.input != ours:
                out[(detector, r.input)] = map50_difference(mine.scores.map50 - r.scores.map50,
                                                            samples[:, column[ours]], samples[:, k])
    return out


def target_check(rows: Sequence[DetectionRow], ours: str = "risfusenet", margin: float = 0.03,
                 baselines: Sequence[str] = BASELINES,
                 intervals: dict[tuple[str, str], MapDifference] | None = None) -> list[str]:
    """Lines saying, per detector, whether our fused input beats the best single modality by
    ``margin`` mAP50 and every peer network's fused input (pixel-rule baselines listed apart); with
    ``intervals`` (:func:`map50_intervals`) also which of those leads the images can confirm."""
    lines = []
    for detector in dict.fromkeys(r.detector for r in rows):
        by_input = {r.input: r.scores.map50 for r in rows if r.detector == detector}
        if ours not in by_input:
            continue
        singles = {k: v for k, v in by_input.items() if k in SOURCE_INPUTS}
        others = {k: v for k, v in by_input.items() if k not in SOURCE_INPUTS and k != ours and k not in baselines
                  and not k.startswith(f"{ours}-")}  # variants of ours (risfusenet-plain) are not peers
        rules = {k: v for k, v in by_input.items() if k in baselines}
        value = by_input[ours]
        if singles:
            best = max(singles, key=singles.get)
            delta = value - singles[best]
            verdict = "met" if delta >= margin else "NOT met"
            lines.append(f"{detector}: {ours} mAP50 {value:.4f} vs best single modality {best} {singles[best]:.4f} "
                         f"(delta {delta:+.4f}, target +{margin:.2f}: {verdict})")
        if others:
            beaten = [k for k, v in others.items() if value > v]
            not_beaten = [f"{k} {v:.4f}" for k, v in others.items() if value <= v]
            lines.append(f"{detector}: {ours} beats {len(beaten)}/{len(others)} peer fused inputs"
                         + (f"; not beaten: {', '.join(not_beaten)}" if not_beaten else ""))
        if rules:
            lines.append(f"{detector}: baselines " + ", ".join(f"{k} {v:.4f}" for k, v in rules.items()))
        found = {r.input: r.found for r in rows if r.detector == detector}
        if found[ours]:
            versus = [f"{k} {compare(found[k], found[ours]).describe()}" for k in (*singles, *others, *rules)]
            lines.append(f"{detector}: objects {ours} finds at score >= {OPERATING_SCORE:g} and the other input "
                         f"does not / the reverse (McNemar): " + "; ".join(versus))
        mine = {k[1]: v for k, v in (intervals or {}).items() if k[0] == detector}
        if mine:
            clear = [k for k, v in mine.items() if v.low > 0.0]
            lines.append(f"{detector}: mAP50 of {ours} minus each input, paired bootstrap over images: "
                         + "; ".join(f"{k} {v.describe()}" for k, v in mine.items())
                         + f". Ahead beyond the 95 % interval of: {', '.join(clear) if clear else 'none'}")
    return lines


def found_objects(gt: np.ndarray, gt_names: Sequence[str], detections: Sequence[Detection],
                  categories: Sequence[str], min_score: float, iou_threshold: float = 0.5) -> list[bool]:
    """Per ground-truth box of ``categories`` (in file order): found by a detection of its class scoring
    >= ``min_score`` at IoU >= ``iou_threshold`` (greedy by score, each detection used once, as COCO
    matches). The operating point a robot runs at, not the whole precision-recall curve."""
    rows = _category_rows(gt, gt_names, categories)
    found = [False] * len(rows)
    for row, _ in match_objects(gt, gt_names, detections, categories, min_score, iou_threshold):
        found[row] = True
    return found


def _category_rows(gt: np.ndarray, gt_names: Sequence[str], categories: Sequence[str]
                   ) -> list[tuple[str, tuple[float, float, float, float]]]:
    rows = [(gt_names[int(c)] if 0 <= int(c) < len(gt_names) else None, (x1, y1, x2, y2))
            for c, x1, y1, x2, y2 in np.asarray(gt, dtype=np.float64).reshape(-1, 5)]
    return [(name, box) for name, box in rows if name in categories]


def match_objects(gt: np.ndarray, gt_names: Sequence[str], detections: Sequence[Detection],
                  categories: Sequence[str], min_score: float, iou_threshold: float = 0.5) -> list[tuple[int, int]]:
    """The one-to-one matches of :func:`found_objects` as (ground-truth row among the boxes of ``categories``,
    index into ``detections``) pairs."""
    rows = _category_rows(gt, gt_names, categories)
    taken = [False] * len(rows)
    pairs: list[tuple[int, int]] = []
    for name in categories:
        truth = [i for i, (n, _) in enumerate(rows) if n == name]
        dets = sorted((i for i, d in enumerate(detections) if d.class_name == name and d.score >= min_score),
                      key=lambda i: -detections[i].score)
        if not truth or not dets:
            continue
        iou = box_iou(np.array([detections[i].box for i in dets], np.float64),
                      np.array([rows[i][1] for i in truth], np.float64))
        for k, det in enumerate(dets):
            free = [j for j in range(len(truth)) if not taken[truth[j]]]
            if not free:
                break
            best = max(free, key=lambda j: iou[k, j])
            if iou[k, best] >= iou_threshold:
                taken[truth[best]] = True
                pairs.append((truth[best], det))
    return pairs
