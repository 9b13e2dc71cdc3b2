"""With vs without referring feedback into fusion, on the same images (``ris-fusion eval feedback``).

For every image: pass 1 is plain RisFuseNet fusion -> detector -> referring (one detection run
shared by all expressions of the image, as ``eval refer`` does). Each variant (feedback strength,
dilation, optional text gate) then re-fuses with the control map of the pass-1 mask, re-detects and
re-refers. Three groups of figures, the plain row first:

* referring: acc@0.5 / mIoU / no-match accuracy of the pass-2 selection (``referring.batch.score``);
* detection: COCO mAP50 / mAP50-95 (person, bicycle, car; ``labels/fusion``) of an evaluation-setting
  detector on the fused frame, where the feedback mask is the union of the pass-1 detections of those
  classes ("make the detected objects stand out");
* paired counts against the plain row (:mod:`.paired`): expressions only one of the two gets right, and
  ground-truth objects only one of them finds at the referrer's score floor, each with McNemar's exact
  p-value, so a difference of a few items is not mistaken for an improvement;
* fusion metrics inside vs outside the referred region: the region is the bounding box of the pass-1
  referred mask; EN, SD and MI (IR->F, VIS->F, nats) on the pixels of the region / of the rest,
  AG as the mean per-pixel gradient magnitude (``average_gradient``'s formula) over the same pixels,
  and the mean absolute change of the fused gray image against the plain one.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..color import to_gray
from ..data import PairDataset
from ..detection.coco_eval import (
    DEFAULT_RESAMPLES,
    CocoAccumulator,
    CocoScores,
    bootstrap_map50,
    evaluate,
    map50_difference,
)
from ..detection.evaluation import CATEGORIES, found_objects
from ..errors import ConfigError, DataError
from ..feedback import (
    DEFAULT_DILATE_PX,
    FEEDBACK_CLASSES,
    SEARCH_MODES,
    PassResult,
    detections_mask,
    feedback_control,
    search_again,
    search_image,
    search_lean,
    selection_control,
    text_embedding,
)
from ..referring.batch import score
from .metrics import entropy, mutual_information, standard_deviation
from .paired import compare

LEANS = ("infrared", "visible")
REGION_METRICS = ("EN", "SD", "AG", "MI_ir", "MI_vis", "abs_change")


@dataclass(frozen=True)
class Variant:
    """One feedback setting; strength 0 is plain fusion (no feedback)."""

    strength: float
    dilate_px: int = DEFAULT_DILATE_PX
    text_gate: bool = False
    search: bool = False  # with the mask feedback, a searchable no-match leans the whole frame (core.feedback)
    toward: str = "infrared"  # which source the referred region leans to: infrared (+control) or visible (-)
    search_only: str = ""  # "fusion" / "source": no mask feedback, only the search of core.feedback.search_pass

    def __post_init__(self) -> None:
        if self.toward not in LEANS:
            raise ConfigError(f"a feedback lean goes toward one of {', '.join(LEANS)}, got '{self.toward}'")
        if self.search and self.toward != "infrared":
            raise ConfigError("the search lean looks for people in an infrared-like frame; it has no visible form")
        if self.search_only and (self.search_only not in SEARCH_MODES[1:] or self.search or self.text_gate):
            raise ConfigError(f"a search-only setting looks at one of {', '.join(SEARCH_MODES[1:])}, without the "
                              f"mask feedback's options; got {self.search_only!r}")

    @property
    def sign(self) -> float:
        return 1.0 if self.toward == "infrared" else -1.0

    @property
    def is_plain(self) -> bool:
        return self.strength == 0.0 and not self.text_gate

    @property
    def name(self) -> str:
        if self.is_plain:
            return "plain (no feedback)"
        if self.search_only == "fusion":
            return f"search only, fused again s={self.strength:g}"
        if self.search_only == "source":
            return "search only, source image (no fusion)"
        return (f"feedback s={self.strength:g} d={self.dilate_px}" + (" toward visible" if self.sign < 0 else "")
                + (" +text" if self.text_gate else "")
                + (" +search" if self.search else ""))


@dataclass
class VariantResult:
    variant: Variant
    predictions: list[dict[str, Any]] = field(default_factory=list)
    detection: CocoAccumulator = field(default_factory=lambda: CocoAccumulator(list(CATEGORIES)))
    region: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    found: list[bool] = field(default_factory=list)  # per ground-truth object: found at the score floor
    seconds: float = 0.0


def _prediction(index: int, pair_id: str, text: str, result: PassResult, size: tuple[int, int]) -> dict[str, Any]:
    """The fields ``referring.batch.score`` reads (as ``refer-batch`` writes them)."""
    sel = result.selection
    return {"index": index, "image": pair_id, "text": text,
            "boxes": [[round(float(v), 2) for v in result.detections[i].box] for i in sel.selected],
            "classes": [result.detections[i].class_name for i in sel.selected], "empty": sel.no_match,
            "score": round(float(sel.score), 4), "explanation": sel.explanation, "size": list(size),
            "instances": len(result.detections)}


def region_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of a non-empty mask as (rows, cols) slices; None for an empty mask."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1)


def _gradient_magnitude(x: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(x)
    return np.sqrt((gx * gx + gy * gy) / 2.0)


def region_metrics(ir: np.ndarray, vis_gray: np.ndarray, fused_gray: np.ndarray, plain_gray: np.ndarray,
                   inside: np.ndarray) -> dict[str, float]:
    """``<metric>_in`` / ``<metric>_out`` for a bool pixel set ``inside`` (and its complement)."""
    out: dict[str, float] = {}
    grad = _gradient_magnitude(fused_gray)
    ir64 = ir.astype(np.float64)
    for suffix, where in (("in", inside), ("out", ~inside)):
        if not where.any():
            for name in REGION_METRICS:
                out[f"{name}_{suffix}"] = float("nan")
            continue
        f, a, b = fused_gray[where][None], ir64[where][None], vis_gray[where][None]
        out[f"EN_{suffix}"] = entropy(f)
        out[f"SD_{suffix}"] = standard_deviation(f)
        out[f"AG_{suffix}"] = float(grad[where].mean())
        # mutual_information(x, x, f) = 2 MI(x, F): the one-source term from the public function
        out[f"MI_ir_{suffix}"] = mutual_information(a, a, f) / 2.0
        out[f"MI_vis_{suffix}"] = mutual_information(b, b, f) / 2.0
        out[f"abs_change_{suffix}"] = float(np.abs(fused_gray[where] - plain_gray[where]).mean())
    return out


def evaluate_feedback(dataset: PairDataset, expressions: Sequence[dict[str, Any]], variants: Sequence[Variant],
                      fusion: Any, refer_detector: Any, eval_detector: Any, referrer: Any,
                      progress: Callable[[Iterable], Iterable] | None = None) -> list[VariantResult]:
    """Plain first, then each variant; predictions aligned with ``expressions``."""
    records = {r.pair_id: r for r in dataset.records}
    by_image: dict[str, list[int]] = defaultdict(list)
    for index, entry in enumerate(expressions):
        if entry["image"] not in records:
            raise DataError(f"expression {index} names image '{entry['image']}', which is not in {dataset.root}")
        by_image[entry["image"]].append(index)
    plain = VariantResult(Variant(0.0))
    results = [plain] + [VariantResult(v) for v in variants]
    for result in results:
        result.predictions = [{}] * len(expressions)
    floor = referrer.min_score  # the referrer's score floor: feedback masks and objects found are taken there
    images = list(by_image.items())
    for image_id, (pair_id, indices) in enumerate(progress(images) if progress else images, start=1):
        pair = dataset.load(records[pair_id])
        if records[pair_id].label_path is None:
            raise DataError(f"no ground-truth label file for pair {pair_id} under {dataset.root}")
        ir, vis = pair.ir, pair.vis
        height, width = ir.shape
        shape, size = (height, width), (width, height)
        vis_gray = to_gray(vis)
        start = time.perf_counter()
        plain_fused = fusion.fuse(ir, vis)
        plain_dets = refer_detector.detect(plain_fused)
        plain.seconds += time.perf_counter() - start
        plain_gray = to_gray(plain_fused)
        # the detection feedback feeds back what the detector reports (the referrer's min_score), not the
        # second-look candidates below it
        confident = [d for d in plain_dets if d.score >= floor]
        # detection: plain vs the union of pass-1 detections of person/bicycle/car as feedback
        found = _found_objects_by(pair.boxes, dataset.class_names, floor)
        plain_eval = eval_detector.detect(plain_fused)
        plain.detection.add_image(image_id, width, height, pair.boxes, dataset.class_names, plain_eval)
        plain.found += found(plain_eval)
        for result in results[1:]:
            v = result.variant
            if v.text_gate or v.search or v.search_only or v.is_plain:
                continue  # text gate and search need a referring text; detection feedback is control-only
            control = v.sign * feedback_control(detections_mask(confident, shape, FEEDBACK_CLASSES), shape,
                                                v.strength, v.dilate_px)
            detections = eval_detector.detect(fusion.fuse(ir, vis, control=control)) if control.any() else plain_eval
            result.detection.add_image(image_id, width, height, pair.boxes, dataset.class_names, detections)
            result.found += found(detections)
        cache: dict[tuple, tuple[np.ndarray, list]] = {}
        for index in indices:
            text = expressions[index]["text"]
            start = time.perf_counter()
            first = PassResult(plain_fused, plain_dets, referrer.refer(text, plain_dets, size, thermal=ir))
            plain.seconds += time.perf_counter() - start
            plain.predictions[index] = _prediction(index, pair_id, text, first, size)
            box = region_box(first.selection.mask) if not first.selection.no_match else None
            inside = np.zeros(shape, bool)
            if box is not None:
                inside[box] = True
                for name, value in region_metrics(ir, vis_gray, plain_gray, plain_gray, inside).items():
                    plain.region[name].append(value)
            for result in results[1:]:
                v = result.variant
                start = time.perf_counter()
                if v.search_only:
                    second = _search_row(v, first, text, size, ir, vis, fusion, refer_detector, referrer, cache)
                    result.seconds += time.perf_counter() - start
                    result.predictions[index] = _prediction(index, pair_id, text, second, size)
                    continue  # the search changes no fused region: no region metrics
                control = v.sign * selection_control(first.selection, shape, v.strength, v.dilate_px, v.search)
                gate = text_embedding(text) if v.text_gate else None
                if not control.any() and gate is None:
                    second = first  # no mask to feed back: pass 2 would be pass 1
                else:
                    # expressions of one image often refer to the same objects: fuse + detect once per control
                    key = (v, hashlib.sha1(control.tobytes()).hexdigest(), text if v.text_gate else "")
                    if key not in cache:
                        fused = fusion.fuse(ir, vis, control=control, **({"text": gate} if gate is not None else {}))
                        cache[key] = (fused, refer_detector.detect(fused))
                    fused, dets = cache[key]
                    second = PassResult(fused, dets, referrer.refer(text, dets, size, thermal=ir))
                result.seconds += time.perf_counter() - start
                result.predictions[index] = _prediction(index, pair_id, text, second, size)
                if box is not None:
                    fused_gray = plain_gray if second is first else to_gray(second.fused)
                    for name, value in region_metrics(ir, vis_gray, fused_gray, plain_gray, inside).items():
                        result.region[name].append(value)
    return results


def _search_row(v: Variant, first: PassResult, text: str, size: tuple[int, int], ir: np.ndarray, vis: np.ndarray,
                fusion: Any, detector: Any, referrer: Any, cache: dict) -> PassResult:
    """Pass 2 of a search-only row (:func:`~ris_fusion_ros.core.feedback.search_again`); each view of an image
    is detected once (``cache``, per image, shared by its expressions)."""

    def view_detections(lean: float) -> list:
        if (v, lean) not in cache:
            image = search_image(v.search_only, lean * v.strength, fusion, ir, vis)
            cache[(v, lean)] = (image, detector.detect(image))
        return cache[(v, lean)][1]

    searched = search_again(first.selection, v.search_only, view_detections,
                            partial(referrer.refer, text, image_size=size, thermal=ir))
    if searched is None:
        return first
    return PassResult(cache[(v, search_lean(first.selection))][0], searched[1], searched[0])


def _found_objects_by(gt: np.ndarray, names: Sequence[str], floor: float) -> Callable[[list], list[bool]]:
    return lambda detections: found_objects(gt, names, detections, CATEGORIES, floor)


def summary_rows(expressions: Sequence[dict[str, Any]], results: Sequence[VariantResult],
                 resamples: int = DEFAULT_RESAMPLES) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(summary rows, one per variant; per-expression rows with every variant's IoU and correctness).

    With ``resamples`` > 0 each detection row also gets the 95 % paired-bootstrap interval over images of its
    mAP50 minus the plain row's (``mAP50_delta_low`` / ``_high``; NaN where not measured)."""
    rows, per_expression, reference = [], [
        {"index": i, "image": e["image"], "type": e.get("type", "all"), "text": e["text"]}
        for i, e in enumerate(expressions)], None
    measured = [r for r in results if r.detection.images]
    samples = bootstrap_map50([r.detection for r in measured], resamples) \
        if resamples and len(measured) > 1 and measured[0] is results[0] else None
    for result in results:
        v = result.variant
        scored, summary = score(list(expressions), result.predictions)
        overall = summary["overall"]
        row: dict[str, Any] = {"variant": v.name, "strength": v.strength, "toward": v.toward, "dilate_px": v.dilate_px,
                               "text_gate": v.text_gate, "search": v.search,
                               "expressions": overall["n"],
                               "acc50": overall["acc50"], "acc50_target": overall["acc50_target"],
                               "miou": overall["miou"], "no_match_acc": overall["no_match_acc"],
                               "false_no_match": overall["false_no_match"]}
        if result.detection.images:
            det: CocoScores = evaluate(result.detection)
            row.update({"images": det.n_images, "mAP50": det.map50, "mAP50_95": det.map50_95,
                        **{f"AP50_{c}": det.ap50[c] for c in CATEGORIES}})
        else:
            row.update({"images": 0, "mAP50": float("nan"), "mAP50_95": float("nan"),
                        **{f"AP50_{c}": float("nan") for c in CATEGORIES}})
        row["mAP50_delta_low"] = row["mAP50_delta_high"] = float("nan")
        if samples is not None and result in measured[1:]:
            column = measured.index(result)
            spread = map50_difference(0.0, samples[:, column], samples[:, 0])
            row["mAP50_delta_low"], row["mAP50_delta_high"] = spread.low, spread.high
        correct = [bool(item["correct"]) for item in scored]
        if reference is None:
            reference = (correct, result.found)
        refer = compare(reference[0], correct)
        row.update({"refer_wins": refer.wins, "refer_losses": refer.losses, "refer_p": refer.p_value,
                    "objects": len(result.found)})
        if result.found:
            objects = compare(reference[1], result.found)
            row.update({"objects_found": sum(result.found), "object_wins": objects.wins,
                        "object_losses": objects.losses, "object_p": objects.p_value})
        else:
            row.update({"objects_found": 0, "object_wins": 0, "object_losses": 0, "object_p": float("nan")})
        row["regions"] = len(result.region.get("EN_in", []))
        for name in REGION_METRICS:
            for suffix in ("in", "out"):
                values = np.asarray(result.region.get(f"{name}_{suffix}", []), dtype=np.float64)
                values = values[np.isfinite(values)]
                row[f"{name}_{suffix}"] = float(values.mean()) if values.size else float("nan")
        row["seconds"] = result.seconds
        rows.append(row)
        for item, out in zip(scored, per_expression, strict=True):
            out[f"iou[{v.name}]"] = item["iou"]
            out[f"correct[{v.name}]"] = item["correct"]
    return rows, per_expression
