"""``ris-fusion eval detect``: COCO mAP of detectors on visible, infrared and fused inputs.

Ground truth is the data set's fusion labels (MSRS ``labels/fusion``: person, bicycle, car),
the same for every input. Detectors run with the YOLOv5 validation settings (confidence 0.001,
class-aware NMS at IoU 0.6, at most 300 boxes); pycocotools computes mAP50 and mAP50-95.
Writes ``summary.csv`` (one row per input and detector), ``report.md`` and ``summary.png``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ..core.data import open_dataset
from ..core.detection import NAMED_MODELS, create_detector
from ..core.detection.coco_eval import DEFAULT_RESAMPLES
from ..core.detection.evaluation import (
    CATEGORIES,
    EVAL_CONF,
    EVAL_IOU,
    SOURCE_INPUTS,
    DetectionRow,
    InputSource,
    evaluate_inputs,
    map50_intervals,
    target_check,
    write_summary,
)
from ..core.detection.provenance import training_overlap
from ..core.errors import ConfigError, RisFusionError
from ..core.fusion import RuntimeOptions, create_method
from .arguments import add_data_args, add_runtime_args, comma_list

PEERS = ("seafusion", "tardal", "didfuse", "ifcnn", "densefuse", "u2fusion")
DEFAULT_INPUTS = ("visible", "infrared", "risfusenet", *PEERS, "max", "average")
DEFAULT_DETECTORS = ("yolov5n", "yolox-nano")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--inputs", default=",".join(DEFAULT_INPUTS),
                        help="comma-separated: visible, infrared and fusion method names "
                             f"(default {','.join(DEFAULT_INPUTS)})")
    parser.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS),
                        help=f"comma-separated: {', '.join(NAMED_MODELS)} or .onnx paths "
                             f"(default {','.join(DEFAULT_DETECTORS)})")
    parser.add_argument("--fused-from", help="folder of an earlier `eval fusion --save-fused` run "
                                             "(DIR/fused/<method>/<id>.png); missing images are fused on the fly")
    parser.add_argument("--limit", type=int, help="only the first N pairs (quick checks)")
    parser.add_argument("--conf", type=float, default=EVAL_CONF, help=f"confidence threshold (default {EVAL_CONF})")
    parser.add_argument("--iou", type=float, default=EVAL_IOU, help=f"NMS IoU threshold (default {EVAL_IOU})")
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N",
                        help="paired bootstrap over images with N draws: a 95 %% interval for the mAP50 difference "
                             f"between risfusenet and every other input (default {DEFAULT_RESAMPLES}; 0 = off)")
    parser.add_argument("--skip-unrunnable", action="store_true",
                        help="leave out fusion methods that cannot be created (named in the report) instead of "
                             "stopping")
    add_runtime_args(parser)


def _fused_dir(root: Path | None, method: str) -> Path | None:
    if root is None:
        return None
    for candidate in (root / "fused" / method, root / method):
        if candidate.is_dir():
            return candidate
    return None


def _inputs(names: list[str], fused_from: Path | None, runtime: RuntimeOptions,
            skip: bool) -> tuple[list[InputSource], list[str]]:
    sources, skipped = [], []
    for name in names:
        if name in SOURCE_INPUTS:
            sources.append(InputSource(name))
            continue
        try:
            create_method(name, runtime)  # validates the name; networks load lazily on first fusion
        except RisFusionError as exc:
            if not skip:
                raise
            skipped.append(f"{name}: {exc}")
            continue
        sources.append(InputSource(name, _fused_dir(fused_from, name),
                                   lambda name=name: create_method(name, runtime)))
    return sources, skipped


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    inputs, detectors = comma_list(args.inputs), comma_list(args.detectors)
    if not inputs or not detectors:
        raise ConfigError("give at least one --inputs and one --detectors entry")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap takes a number of draws >= 0 (0 = off), got {args.bootstrap}")
    fused_from = Path(args.fused_from) if args.fused_from else None
    if fused_from is not None and not fused_from.is_dir():
        raise ConfigError(f"--fused-from folder not found: {fused_from}")
    runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
    dataset = open_dataset(args.dataset, args.data_root, args.split, args.shared_root)
    sources, skipped = _inputs(inputs, fused_from, runtime, args.skip_unrunnable)
    models = [create_detector(name, runtime, shared=args.shared_root, conf=args.conf, iou=args.iou)
              for name in detectors]
    records = dataset.records[:args.limit] if args.limit else dataset.records
    evaluated = [r.pair_id for r in records]
    overlaps = [training_overlap(name, evaluated, args.shared_root) for name in detectors]
    progress = _progress(args.no_progress, f"eval detect ({len(sources)} inputs x {len(models)} detectors)")
    start = time.perf_counter()
    rows = evaluate_inputs(dataset, sources, models, records=records, progress=progress)
    intervals = map50_intervals(rows, resamples=args.bootstrap) if args.bootstrap else {}
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    summary = write_summary(rows, out / "summary.csv")
    plot = _plot(rows, out / "summary.png", f"{args.dataset} {args.split or 'all'}: detection mAP50 per input")
    report = _report(rows, out / "report.md", args, dataset, models, skipped, seconds, plot, intervals, overlaps)
    print(_table(rows))
    for overlap in overlaps:
        if not overlap.held_out:
            print(overlap.sentence(), file=sys.stderr)
    for line in target_check(rows, intervals=intervals):
        print(line)
    print(f"wrote {summary}, {report}, {plot}")
    return 0


def _progress(disabled: bool, label: str):
    def wrap(items):
        if disabled:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=label, unit="pair", file=sys.stderr)

    return wrap


def _table(rows: list[DetectionRow]) -> str:
    cats = list(CATEGORIES)
    lines = ["| detector | input | mAP50 | mAP50-95 | " + " | ".join(f"AP50 {c}" for c in cats) + " |",
             "|---|---|---|---|" + "---|" * len(cats)]
    for r in rows:
        per = " | ".join("n/a" if math.isnan(r.scores.ap50[c]) else f"{r.scores.ap50[c]:.3f}" for c in cats)
        lines.append(f"| {r.detector} | {r.input} | {r.scores.map50:.3f} | {r.scores.map50_95:.3f} | {per} |")
    return "\n".join(lines)


def _plot(rows: list[DetectionRow], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    detectors = list(dict.fromkeys(r.detector for r in rows))
    inputs = list(dict.fromkeys(r.input for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(inputs) * len(detectors)), 3.6))
    width = 0.8 / len(detectors)
    for k, det in enumerate(detectors):
        values = {r.input: r.scores.map50 for r in rows if r.detector == det}
        ax.bar([i + k * width for i in range(len(inputs))], [values.get(i, 0.0) for i in inputs], width, label=det)
    ax.set_xticks([i + width * (len(detectors) - 1) / 2 for i in range(len(inputs))])
    ax.set_xticklabels(inputs, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("mAP50 (person, bicycle, car)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _weights_origin(path: str) -> str:
    """Report clause: fine-tuned (from the ``finetuned_from`` note ``train detector`` writes into the ONNX
    metadata) or pretrained; named models are the published weights."""
    if not path or not str(path).endswith(".onnx") or not Path(path).is_file():
        return "pretrained weights as published"
    try:
        import onnx
    except ImportError:
        return "weights of unknown origin (install onnx to read the file's metadata)"
    props = onnx.load(str(path), load_external_data=False).metadata_props
    origin = next((p.value for p in props if p.key == "finetuned_from"), "")
    if origin:
        return f"**fine-tuned** from {origin} (its .json beside it lists the pairs it was trained on)"
    return "weights as exported (no fine-tuning recorded in the file)"


def _report(rows, path: Path, args, dataset, models, skipped, seconds: float, plot: Path, intervals,
            overlaps) -> Path:
    n = rows[0].scores.n_images if rows else 0
    lines = [f"# Detection on fused inputs: {args.dataset} {args.split or '(all pairs)'}", "",
             f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {platform.machine()} "
             f"({os.cpu_count()} CPUs) in {seconds / 60:.1f} min by `ris-fusion "
             f"{' '.join(shlex.quote(a) for a in sys.argv[1:])}`.", "",
             f"- Pairs: {n} of {len(dataset)}; ground truth `{dataset.spec.labels_dir}` (the same boxes for every "
             f"input); classes evaluated: {', '.join(CATEGORIES)} (detector classes mapped by name; other classes "
             "ignored).",
             f"- Detector settings: confidence > {args.conf}, class-aware NMS IoU {args.iou}, at most 300 boxes, one "
             "class per box; letterbox as each model expects (YOLOv5n: rect 640, YOLOX-Nano: 416 top-left).",
             "- Metric: pycocotools COCOeval (bbox, all areas, maxDets 100): mAP50 = AP at IoU 0.5, mAP50-95 = mean "
             "AP over IoU 0.5:0.95, averaged over the classes present; per-class AP50 in summary.csv.",
             "- Is a difference real? Objects found at the operating score are compared one by one (McNemar's "
             "exact test); mAP50 differences get a paired bootstrap over images "
             + (f"({args.bootstrap} draws, the same for every input of a detector; COCOeval accumulates each draw)."
                if args.bootstrap else "(off: --bootstrap 0)."),
             ""]
    for det, overlap in zip(models, overlaps, strict=True):
        info = det.info()
        lines.append(f"- `{info['model']}`: {info['layout']} layout, input {info['input_size']}, "
                     f"{info['backend']} {info.get('threads', '')} threads; {_weights_origin(info.get('path', ''))}. "
                     f"Training pairs: {overlap.sentence()}")
    if skipped:
        lines += ["", "Fusion methods left out (could not be created):", *[f"- {s}" for s in skipped]]
    lines += ["", _table(rows), "", "## Target check", "",
              *[f"- {line}" for line in target_check(rows, intervals=intervals)], "",
              "## Where the fused images came from", ""]
    for r in rows:
        if r.input not in SOURCE_INPUTS and r.detector == rows[0].detector:
            lines.append(f"- {r.input}: {r.provenance}")
    lines += ["", f"![mAP50 per input]({plot.name})", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
