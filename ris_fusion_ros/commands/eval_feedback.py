"""``ris-fusion eval feedback``: referring, detection and region fusion metrics without vs with feedback.

The referred mask (pass 1, plain fusion) is fed back as RisFuseNet's control map (pass 2) on the same
images; see :mod:`ris_fusion_ros.core.evaluation.feedback_eval` for what is measured and how.
Writes report.md, summary.csv and per_expression.csv to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ..core.data import open_dataset
from ..core.detection import create_detector
from ..core.detection.coco_eval import DEFAULT_RESAMPLES
from ..core.detection.evaluation import CATEGORIES, EVAL_CONF, EVAL_IOU
from ..core.detection.provenance import training_overlap
from ..core.detection.types import DEFAULT_DETECTOR
from ..core.errors import ConfigError
from ..core.evaluation.feedback_eval import LEANS, Variant, evaluate_feedback, summary_rows
from ..core.feedback import (
    DEFAULT_DILATE_PX,
    DEFAULT_FEATHER_PX,
    FEEDBACK_CLASSES,
    SEARCH_STRENGTH,
    validate_strength,
)
from ..core.fusion import RuntimeOptions, create_method, require_conditioning
from ..core.referring import Referrer
from ..core.referring.batch import ROAD_CLASSES
from ..core.referring.expressions import load_expressions
from ..core.referring.lexicon import COCO_CLASSES
from ..core.referring.operating_point import OperatingPoint, resolve_operating_point
from .arguments import add_data_args, add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--expressions", required=True, help="JSON list of {image, text, boxes[, type]}")
    parser.add_argument("--out", required=True, help="output folder (report.md, summary.csv, per_expression.csv)")
    parser.add_argument("--strength", default="0.5,1.0",
                        help="comma-separated feedback strengths in (0, 1] (default 0.5,1.0)")
    parser.add_argument("--dilate", default=str(DEFAULT_DILATE_PX),
                        help=f"comma-separated mask dilations in pixels (default {DEFAULT_DILATE_PX})")
    parser.add_argument("--text-gate", action="store_true",
                        help="also run each setting with the referring text's embedding fed to the text gate")
    parser.add_argument("--search", action="store_true",
                        help="also run each setting with the search lean: when pass 1 finds none of the people (cars, "
                             "bicycles) a text asks for, pass 2 leans the whole frame to infrared (visible) by the "
                             "strength")
    parser.add_argument("--search-only", action="store_true",
                        help="also run the search alone (no mask feedback): a text naming people / cars / bicycles "
                             "that matched nothing is referred again on the frame fused leaning fully to infrared / "
                             "visible, and, as the no-fusion reference, on the infrared / visible image itself")
    parser.add_argument("--toward", default="infrared",
                        help="comma-separated: which source the fed-back region leans to, infrared (default: the "
                             "control's + side) and/or visible (the - side; no search form)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR,
                        help=f"{DEFAULT_DETECTOR} (default, the nodes' detector), yolox-nano, yolov5n, yolov5n-seg or "
                             "an .onnx file")
    parser.add_argument("--method", default="risfusenet",
                        help="fusion method taking a control map: risfusenet (default; thermal-saliency control "
                             "on) or risfusenet-plain")
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N",
                        help="paired bootstrap over images with N draws: a 95 %% interval for each setting's mAP50 "
                             f"minus the plain row's (default {DEFAULT_RESAMPLES}; 0 = off)")
    parser.add_argument("--limit", type=int, help="only the first N expressions (quick checks)")
    add_runtime_args(parser)


def _numbers(text: str, kind, what: str) -> list:
    try:
        values = [kind(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise ConfigError(f"{what}: expected comma-separated numbers, got {text!r}") from exc
    if not values:
        raise ConfigError(f"{what}: give at least one value")
    return values


def variants_from_args(args: argparse.Namespace) -> list[Variant]:
    strengths = [validate_strength(s) for s in _numbers(args.strength, float, "--strength")]
    if any(s == 0.0 for s in strengths):
        raise ConfigError("--strength 0 is the plain fusion, which is always measured; give values in (0, 1]")
    dilations = _numbers(args.dilate, int, "--dilate")
    if any(d < 0 for d in dilations):
        raise ConfigError(f"--dilate values must be >= 0, got {dilations}")
    gates = (False, True) if args.text_gate else (False,)
    searches = (False, True) if getattr(args, "search", False) else (False,)
    leans = [t.strip() for t in args.toward.split(",") if t.strip()]
    if not leans:  # each name is checked by Variant
        raise ConfigError(f"--toward takes a comma-separated list of {', '.join(LEANS)}, got {args.toward!r}")
    variants = [Variant(s, d, g, search=f, toward=t) for t in leans for f in searches for g in gates
                for d in dilations for s in strengths if not (f and t != "infrared")]
    if getattr(args, "search_only", False):
        variants += [Variant(SEARCH_STRENGTH, search_only="fusion"), Variant(SEARCH_STRENGTH, search_only="source")]
    return variants


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    variants = variants_from_args(args)
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap takes a number of draws >= 0 (0 = off), got {args.bootstrap}")
    expressions = load_expressions(args.expressions)
    if args.limit is not None:
        expressions = expressions[:args.limit]
    dataset = open_dataset(args.dataset, args.data_root, args.split, args.shared_root)
    runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
    fusion = create_method(args.method, runtime)
    require_conditioning(fusion, "control", purpose="feedback needs risfusenet(-plain)")
    keep = [COCO_CLASSES.index(c) for c in ROAD_CLASSES]
    # the detector's operating point (its scores; this comparison runs without the thermal stream), detected
    # down to the referrer's candidate floor (the referrer itself looks at >= its min_score first)
    point = resolve_operating_point(args.detector, thermal_stream=False)
    refer_detector = create_detector(args.detector, runtime, args.shared_root, classes=keep,
                                     conf=point.candidate_floor())
    eval_detector = create_detector(args.detector, runtime, args.shared_root, conf=EVAL_CONF, iou=EVAL_IOU)
    progress = None if args.no_progress else _progress(f"eval feedback ({len(variants) + 1} settings)")
    start = time.perf_counter()
    referrer = Referrer(**point.referrer_scores())
    results = evaluate_feedback(dataset, expressions, variants, fusion, refer_detector, eval_detector, referrer,
                                progress)
    seconds = time.perf_counter() - start
    rows, per_expression = summary_rows(expressions, results, args.bootstrap)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "summary.csv", rows)
    _write_csv(out / "per_expression.csv", per_expression)
    image_ids = {e["image"] for e in expressions}
    overlap = training_overlap(args.detector, image_ids, args.shared_root)
    if not overlap.held_out:
        print(overlap.sentence(), file=sys.stderr)
    report = _report(rows, args, dataset, len(expressions), len(image_ids), seconds, overlap.sentence(), point)
    (out / "report.md").write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {out / 'report.md'}, {out / 'summary.csv'}, {out / 'per_expression.csv'}")
    return 0


def _progress(label: str):
    from tqdm import tqdm

    def wrap(items):
        return tqdm(items, desc=label, unit="image", file=sys.stderr)

    return wrap


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["variant"])
        writer.writeheader()
        writer.writerows({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in rows)


def _f(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def tables(rows: list[dict], floor: float) -> str:
    """The markdown tables of the report (referring + detection, paired counts, region metrics)."""
    lines = ["| setting | acc@0.5 | mIoU | no-match acc | false no-match | mAP50 | mAP50-95 | "
             + " | ".join(f"AP50 {c}" for c in CATEGORIES) + " | s |",
             "|---|---|---|---|---|---|---|" + "---|" * len(CATEGORIES) + "---|"]
    for r in rows:
        per = " | ".join(_f(r[f"AP50_{c}"]) for c in CATEGORIES)
        lines.append(f"| {r['variant']} | {_f(r['acc50'])} | {_f(r['miou'])} | {_f(r['no_match_acc'])} | "
                     f"{_f(r['false_no_match'])} | {_f(r['mAP50'])} | {_f(r['mAP50_95'])} | {per} | "
                     f"{r['seconds']:.0f} |")
    lines += ["", "Against the plain row, item by item (McNemar's exact test; p >= 0.05 means the change could be "
              "chance): expressions only this setting / only plain gets right, and ground-truth objects only "
              f"this setting / only plain finds at the referrer's score floor ({floor:g}).", "",
              "mAP50 change: this setting minus plain on all images, with the 95 % interval of a paired bootstrap "
              "over images (an interval that contains 0 is not a measured change).", "",
              "| setting | expressions +/- | p | objects found | objects +/- | p | mAP50 change (95 % interval) |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r is rows[0]:
            lines.append(f"| {r['variant']} | reference | | {r['objects_found']} of {r['objects']} | reference | | "
                         "reference |")
            continue
        change = "–" if math.isnan(r.get("mAP50_delta_low", math.nan)) else (
            f"{r['mAP50'] - rows[0]['mAP50']:+.3f} ({r['mAP50_delta_low']:+.3f} to {r['mAP50_delta_high']:+.3f})")
        objects = ("–", "–", "–") if math.isnan(r["object_p"]) else (
            f"{r['objects_found']} of {r['objects']}", f"+{r['object_wins']} / -{r['object_losses']}",
            f"{r['object_p']:.3g}")
        lines.append(f"| {r['variant']} | +{r['refer_wins']} / -{r['refer_losses']} | {r['refer_p']:.3g} | "
                     f"{objects[0]} | {objects[1]} | {objects[2]} | {change} |")
    lines += ["", "Fusion metrics inside / outside the referred region (mean over "
              f"{rows[0]['regions'] if rows else 0} expressions with a pass-1 selection):", "",
              "| setting | EN in | EN out | SD in | SD out | AG in | AG out | MI(IR,F) in | MI(IR,F) out | "
              "MI(VIS,F) in | MI(VIS,F) out | mean abs change in | mean abs change out |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = " | ".join(_f(r[f"{m}_{s}"]) for m in ("EN", "SD", "AG", "MI_ir", "MI_vis", "abs_change")
                           for s in ("in", "out"))
        lines.append(f"| {r['variant']} | {cells} |")
    return "\n".join(lines)


def _report(rows: list[dict], args: argparse.Namespace, dataset, n_expr: int, n_images: int,
            seconds: float, training: str, point: OperatingPoint) -> str:
    return "\n".join([
        "# Referring feedback into fusion: without vs with", "",
        f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {platform.machine()} "
        f"({os.cpu_count()} CPUs) in {seconds / 60:.1f} min by `ris-fusion "
        f"{' '.join(shlex.quote(a) for a in sys.argv[1:])}`.", "",
        f"- Expressions: {args.expressions} ({n_expr} expressions on {n_images} images of {dataset.root}); one run "
        "each (the pipeline is deterministic).",
        f"- Fusion: `{args.method}`; detector `{args.detector}` on the fused frame (referring: road classes, "
        f"the detector's operating point without the thermal stream: {point.describe()}; detection mAP: "
        f"confidence > {EVAL_CONF}, NMS IoU {EVAL_IOU}, pycocotools). Training pairs: "
        f"{training}",
        "- Feedback (pass 2): control map = referred mask of pass 1 dilated by d px, feathered linearly over "
        f"{DEFAULT_FEATHER_PX} px, times the strength s (+ leans to infrared; 'toward visible' rows use -s); "
        "'+text' also feeds the referring text's embedding to the text gate; '+search': when pass 1 found none of "
        "the people (cars, bicycles) the text asks for, pass 2 leans the whole frame to infrared (visible) by s. "
        "'search only' rows feed no mask back: only such a no-match is referred again, on the frame fused leaning "
        "fully to that source, or (no fusion) on the source image itself. The same images, detector and referrer "
        "in every row.",
        f"- Detection rows: the feedback mask is the union of the pass-1 detections of {', '.join(FEEDBACK_CLASSES)} "
        f"scoring >= {point.min_score:g} (make the detected objects stand out); ground truth `labels/fusion`. "
        "Not measured for '+text' and '+search' settings (they need a text).",
        "- Region metrics: inside = bounding box of the pass-1 referred mask; outside = the rest of the frame. "
        "EN/SD/MI on those pixels, AG = mean per-pixel gradient magnitude, mean abs change vs the plain fused "
        "gray image. MI in nats, one source each.",
        "- `s`: seconds spent in that setting's fusion, detection and referring (referring rows only).", "",
        tables(rows, point.min_score), ""])
