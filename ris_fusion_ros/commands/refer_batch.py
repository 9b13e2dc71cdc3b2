"""``ris-fusion refer-batch``: referring segmentation for every expression of a JSON file.

Writes ``OUT/predictions.json`` (aligned with the input: index, boxes of the selected
instances, empty, score, explanation) and ``OUT/masks/<index>.png`` (0/255).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tqdm import tqdm

from ..core.data import open_dataset
from ..core.detection.merge import stream_floor
from ..core.detection.provenance import training_overlap
from ..core.detection.types import DEFAULT_DETECTOR
from ..core.feedback import SEARCH_MODES
from ..core.fusion import RuntimeOptions
from ..core.referring import Referrer
from ..core.referring.batch import INPUTS, INSTANCE_SOURCES, InstanceSource, run_batch
from ..core.referring.expressions import load_expressions
from ..core.referring.operating_point import AUTO_SCORE, OperatingPoint, resolve_operating_point
from ..core.referring.referrer import (
    DEFAULT_MIN_SCORE,
    DEFAULT_SECOND_LOOK_SCORE,
)
from ..core.referring.thermal_check import ThermalCheck
from .arguments import add_data_args, add_imgsz_arg, add_runtime_args, add_score_margin_arg


def add_source_arguments(parser: argparse.ArgumentParser, expressions_help: str | None = None,
                         detector_help: str | None = None) -> None:
    """Where the instances come from (shared with ``eval refer`` and ``eval refer-folds``, which read
    ``--expressions`` and ``--detector`` as lists and say so in the help texts they pass)."""
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--expressions", required=True,
                        help=expressions_help or "JSON list of {image, text[, boxes, type]}")
    parser.add_argument("--instances", choices=INSTANCE_SOURCES, default="detector",
                        help="detector (default) or gt: ground-truth boxes of the data set as instances")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR,
                        help=detector_help or f"{DEFAULT_DETECTOR} (default, the nodes' detector), yolox-nano, "
                                              "yolov5n, yolov5n-seg (instance masks), an .onnx file, or several joined "
                                              "by + (an ensemble)")
    parser.add_argument("--input", choices=INPUTS, default="fused",
                        help="image the detector sees: fused (default), visible or infrared")
    parser.add_argument("--fusion", default="risfusenet",
                        help="fusion method of the fused input (default risfusenet; e.g. risfusenet-plain)")
    parser.add_argument("--conf", type=float,
                        help="detections >= this confidence are the instances (default: the detector's operating "
                             f"point: yolox-nano-msrs 0.35, other detectors {DEFAULT_MIN_SCORE})")
    parser.add_argument("--second-look", type=float,
                        help="a text naming a category that matched nothing is matched again down to this confidence "
                             "(>= --conf turns it off; default: the detector's operating point: yolox-nano-msrs off, "
                             f"other detectors {DEFAULT_SECOND_LOOK_SCORE})")
    add_score_margin_arg(parser)
    parser.add_argument("--thermal-stream", action=argparse.BooleanOptionalAction,
                        help="also run the detector on the infrared image and merge the people it finds (weighted "
                             "box fusion; both frames in one batched run; default: the detector's operating point: "
                             "yolox-nano-msrs on, other detectors off)")
    add_imgsz_arg(parser)
    parser.add_argument("--search", choices=SEARCH_MODES, default="off",
                        help="referring search: when a text naming people / cars / bicycles matches nothing, detect "
                             "again on the image fused leaning fully to infrared / visible (fusion: the feedback into "
                             "fusion; risfusenet only) or on the infrared / visible image itself (source), and refer "
                             "again (default off)")
    parser.add_argument("--limit", type=int, help="only the first N expressions (quick checks)")
    add_runtime_args(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (predictions.json, masks/)")


def command_operating_point(args: argparse.Namespace) -> OperatingPoint:
    """--conf / --second-look / --thermal-stream, each defaulting to the detector's operating point; with
    ground-truth instances or infrared input the thermal stream does not apply (off unless asked for)."""
    return resolve_operating_point(args.detector if args.instances == "detector" else "", args.conf,
                                   AUTO_SCORE if args.second_look is None else args.second_look, args.thermal_stream,
                                   stream_applies=args.instances == "detector" and args.input != "infrared",
                                   score_margin=args.score_margin)


def predict(args: argparse.Namespace, out: Path | None) -> tuple[list[dict], list[dict], str]:
    """Expressions, aligned predictions and a one-line description of the run."""
    expressions = load_expressions(args.expressions)
    if args.limit is not None:
        expressions = expressions[:args.limit]
    dataset = open_dataset(args.dataset, args.data_root, args.split, shared=args.shared_root)
    runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
    point = command_operating_point(args)
    floor = stream_floor(point.candidate_floor(), point.thermal_stream)
    source = InstanceSource.create(args.instances, args.detector, args.input, runtime, args.shared_root, floor,
                                   args.fusion, point.thermal_stream, args.imgsz, args.search)
    # ground-truth instances are real objects by definition: the thermal check is for detections only
    referrer = Referrer(thermal_check=ThermalCheck(0.0) if args.instances == "gt" else None,
                        **point.referrer_scores())
    start = time.perf_counter()
    progress = None if args.no_progress else (lambda items: tqdm(items, desc="refer", unit="image"))
    predictions = run_batch(dataset, expressions, referrer, source, out, progress)
    seconds = time.perf_counter() - start
    image_ids = {e["image"] for e in expressions}
    searched = [p for p in predictions if p.get("searched")]
    search = (f"; search ({args.search}): {len(searched)} no-matches looked at again, "
              f"{sum(not p['empty'] for p in searched)} answered" if args.search != "off" else "")
    description = (f"{len(expressions)} expressions on {len(image_ids)} images of {dataset.root}; instances: "
                   f"{source.describe()} ({point.describe()}){search}; {seconds:.1f} s")
    if args.instances == "detector":
        description += ". Training pairs: " + training_overlap(args.detector, image_ids, args.shared_root).sentence()
    return expressions, predictions, description


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _, predictions, description = predict(args, out)
    (out / "predictions.json").write_text(json.dumps(predictions, indent=1), encoding="utf-8")
    empty = sum(p["empty"] for p in predictions)
    print(f"{description}\n{empty} no-match, {len(predictions) - empty} with a selection; "
          f"wrote {out / 'predictions.json'} and {out / 'masks'}/")
    return 0
