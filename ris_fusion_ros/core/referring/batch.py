"""Running the referring step over an expression file, and scoring it against ground truth.

Shared by ``ris-fusion refer-batch`` (predictions + masks), ``eval refer`` (scores) and the tests.
Each image is read, fused and detected once, whatever the number of expressions on it.
"""

from __future__ import annotations

import csv
import json
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..data import PairDataset, write_image
from ..data.datasets import Pair
from ..detection.merge import merge_streams
from ..detection.types import DEFAULT_DETECTOR, Detection, detect_many
from ..errors import ConfigError, DataError
from ..feedback import search_again, search_image, validate_search
from .attribution import candidate_rows
from .instances import detections_from_boxes
from .lexicon import COCO_CLASSES
from .metrics import Scored, box_union_iou, summarise
from .referrer import Referrer

INSTANCE_SOURCES = ("gt", "detector")
INPUTS = ("fused", "visible", "infrared")
#: Road-scene COCO classes kept from the detector (the referring words cover these).
ROAD_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
THERMAL_CACHE = 16  # pairs whose thermal-stream detections are kept for a search of the same pair


@dataclass
class InstanceSource:
    """Gives the detections of one pair: ground-truth boxes, or a detector on the chosen input."""

    kind: str = "gt"
    detector: Any = None
    fusion: Any = None
    input: str = "fused"
    thermal_stream: bool = False  # also detect on the infrared image and merge its people (merge_streams)
    search: str = "off"  # a no-match looks again at a view favouring the category's source (core.feedback)
    _thermal: OrderedDict[str, list[Detection]] = field(default_factory=OrderedDict, repr=False)

    @classmethod
    def create(cls, kind: str, detector_name: str = DEFAULT_DETECTOR, input_kind: str = "fused", runtime: Any = None,
               shared: str | None = None, conf: float | None = None,
               fusion_method: str = "risfusenet", thermal_stream: bool = False,
               imgsz: int | None = None, search: str = "off") -> InstanceSource:
        """``conf``: the detector's floor (with ``thermal_stream`` give half the floor the merged boxes need:
        a merged box keeps the mean score of its two streams). ``imgsz``: letterbox size (default: the
        model's own, see :func:`create_detector`). ``search``: the referring search of
        :mod:`~ris_fusion_ros.core.feedback` (detector instances on the fused image; ``fusion`` needs a
        fusion method with a control map)."""
        if kind not in INSTANCE_SOURCES:
            raise ConfigError(f"--instances must be one of {', '.join(INSTANCE_SOURCES)}, got '{kind}'")
        if input_kind not in INPUTS:
            raise ConfigError(f"--input must be one of {', '.join(INPUTS)}, got '{input_kind}'")
        if thermal_stream and (kind == "gt" or input_kind == "infrared"):
            raise ConfigError("the thermal stream adds infrared detections to detector instances on the fused or "
                              "visible image; it does not apply to --instances gt or --input infrared")
        if validate_search(search) != "off" and (kind == "gt" or input_kind != "fused"):
            raise ConfigError("the search looks again at another view of the fused frame: it needs --instances "
                              "detector on the fused image")
        if kind == "gt":
            return cls("gt", input=input_kind)
        from ..detection import create_detector

        keep = [COCO_CLASSES.index(c) for c in ROAD_CLASSES]
        options: dict[str, Any] = {"classes": keep, "imgsz": imgsz}
        if conf is not None:
            options["conf"] = conf
        detector = create_detector(detector_name, runtime, shared, **options)
        fusion = None
        if input_kind == "fused":
            from ..fusion import create_method, require_conditioning

            fusion = create_method(fusion_method, runtime) if runtime is not None else create_method(fusion_method)
            if search == "fusion":
                require_conditioning(fusion, "control", purpose="--search fusion needs a fusion with a control map")
        return cls("detector", detector, fusion, input_kind, thermal_stream, search)

    def describe(self) -> str:
        if self.kind == "gt":
            return "ground-truth boxes (labels/fusion)"
        where = f"fused image ({self.fusion.name})" if self.input == "fused" else f"{self.input} image"
        stream = " + its people on the infrared image (thermal stream, merged)" if self.thermal_stream else ""
        search = {"off": "", "fusion": "; a no-match searches the frame fused again leaning to the category's source",
                  "source": "; a no-match searches the category's source image"}[self.search]
        return f"{self.detector.name} on the {where}{stream}{search}"

    def __call__(self, pair: Pair, class_names: list[str]) -> list[Detection]:
        if self.kind == "gt":
            return detections_from_boxes(pair.boxes, class_names)
        if self.input == "fused":
            image = self.fusion.fuse(pair.ir, pair.vis)
        elif self.input == "visible":
            image = pair.vis
        else:
            image = np.repeat(pair.ir[:, :, None], 3, axis=2)
        return self.detect(image, pair.ir, pair.pair_id)

    def detect(self, image: np.ndarray, ir: np.ndarray, key: str | None = None) -> list[Detection]:
        """The detector on ``image``, with the thermal stream's people merged in when it is on; ``key`` (the
        pair id) reuses the thermal stream's detections of that pair, as the pipeline does within a frame."""
        if not self.thermal_stream:
            return self.detector.detect(image)
        thermal = self._thermal.get(key) if key is not None else None
        if thermal is not None:
            detections = self.detector.detect(image)
        else:  # both frames in one batched run; the detector takes gray as is
            detections, thermal = detect_many(self.detector, [image, ir])
            if key is not None:
                self._thermal[key] = thermal
                while len(self._thermal) > THERMAL_CACHE:
                    self._thermal.popitem(last=False)
        return merge_streams(detections, thermal)

    def search_detections(self, pair: Pair, lean: float) -> list[Detection]:
        """The detections of the search view of ``pair`` (:func:`~ris_fusion_ros.core.feedback.search_image`)."""
        return self.detect(search_image(self.search, lean, self.fusion, pair.ir, pair.vis), pair.ir, pair.pair_id)


def _views_of(source: InstanceSource, pair: Pair) -> Callable[[float], list[Detection]]:
    """The search's detections of ``pair`` per lean, each computed once (an image's expressions share them)."""
    views: dict[float, list[Detection]] = {}

    def view_detections(lean: float) -> list[Detection]:
        if lean not in views:
            views[lean] = source.search_detections(pair, lean)
        return views[lean]

    return view_detections


def run_batch(dataset: PairDataset, expressions: list[dict[str, Any]], referrer: Referrer, source: InstanceSource,
              out: Path | None = None, progress: Callable[[Iterable], Iterable] | None = None
              ) -> list[dict[str, Any]]:
    """Predictions aligned with ``expressions``; masks written to ``out/masks/<index>.png`` if given."""
    records = {r.pair_id: r for r in dataset.records}
    by_image: dict[str, list[int]] = defaultdict(list)
    for index, entry in enumerate(expressions):
        if entry["image"] not in records:
            raise DataError(f"expression {index} names image '{entry['image']}', which is not in {dataset.root}"
                            + (f" (split {dataset.split_path})" if dataset.split_path else ""))
        by_image[entry["image"]].append(index)
    if out is not None:
        (out / "masks").mkdir(parents=True, exist_ok=True)
    predictions: list[dict[str, Any] | None] = [None] * len(expressions)
    images = list(by_image.items())
    for pair_id, indices in (progress(images) if progress else images):
        pair = dataset.load(records[pair_id])
        detections = source(pair, dataset.class_names)
        view_detections = _views_of(source, pair)
        for index in indices:
            text = expressions[index]["text"]
            used, selection = detections, referrer.refer(text, detections, pair.size, thermal=pair.ir)
            searched = search_again(selection, source.search, view_detections,
                                    partial(referrer.refer, text, image_size=pair.size, thermal=pair.ir))
            if searched is not None:
                selection, used = searched
            boxes = [[round(float(v), 2) for v in used[i].box] for i in selection.selected]
            named = referrer.parse(text).named_classes()
            predictions[index] = {
                "index": index, "image": pair_id, "text": text, "boxes": boxes,
                "classes": [used[i].class_name for i in selection.selected],
                "empty": selection.no_match, "score": round(selection.score, 4),
                "explanation": selection.explanation, "size": list(pair.size),
                "instances": len(used), "searched": searched is not None, "named": list(named),
                "candidates": candidate_rows(used, sorted(set(selection.considered) | set(selection.selected)), named),
            }
            if out is not None:
                write_image(out / "masks" / f"{index}.png", selection.mask)
    return [p for p in predictions if p is not None]


def score(expressions: list[dict[str, Any]], predictions: list[dict[str, Any]]
          ) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Per-expression rows and the summary (overall and per ``type``); needs ``boxes`` in every expression."""
    if len(predictions) != len(expressions):
        raise DataError(f"{len(predictions)} predictions for {len(expressions)} expressions; they must align")
    rows, scored = [], []
    for index, (entry, pred) in enumerate(zip(expressions, predictions, strict=True)):
        if "boxes" not in entry:
            raise DataError(f"expression {index} ({entry['text']!r}) has no ground-truth 'boxes' to score against")
        if pred.get("index", index) != index:
            raise DataError(f"prediction {index} has index {pred.get('index')}; predictions must align with the input")
        truth = entry["boxes"]
        iou = box_union_iou(pred["boxes"], truth, tuple(pred.get("size", (0, 0))))
        item = Scored(entry.get("type", "all"), iou, not truth, bool(pred["empty"]))
        scored.append(item)
        rows.append({"index": index, "image": entry["image"], "type": item.kind, "text": entry["text"],
                     "iou": round(iou, 4), "correct": item.correct, "truth_empty": item.truth_empty,
                     "pred_empty": item.pred_empty, "explanation": pred.get("explanation", "")})
    return rows, summarise(scored)


def markdown_summary(summary: dict[str, dict[str, float]]) -> str:
    """Overall row first, then one row per expression type."""

    def fmt(value: float) -> str:
        return "–" if value != value else f"{value:.3f}"

    lines = ["| type | n | with target | acc@0.5 | acc@0.5 (with target) | mIoU | no-match acc | false no-match |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, f in summary.items():
        label = f"**{kind}**" if kind == "overall" else kind
        lines.append(f"| {label} | {f['n']} | {f['n_target']} | {fmt(f['acc50'])} | {fmt(f['acc50_target'])} | "
                     f"{fmt(f['miou'])} | {fmt(f['no_match_acc'])} | {fmt(f['false_no_match'])} |")
    return "\n".join(lines)


def write_scores(out: Path, rows: list[dict[str, Any]], summary: dict[str, dict[str, float]], header: str,
                 extra: str = "") -> str:
    """per_expression.csv, summary.json and report.md (``extra`` markdown after the table) in ``out``;
    returns the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "per_expression.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["index"])
        writer.writeheader()
        writer.writerows(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    text = f"# Referring evaluation\n\n{header}\n\n{markdown_summary(summary)}\n" + (f"\n{extra}\n" if extra else "")
    (out / "report.md").write_text(text, encoding="utf-8")
    return text
