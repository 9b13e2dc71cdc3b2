"""``ris-fusion bench refer``: what the referring step costs per frame, and what parsing a text costs.

* encoder load: once per process (first text with a noun outside the lexicon);
* parse: a text seen for the first time (text and word caches cleared each run; encoder loaded);
* refer: one frame with a cached text (geometry + mask), the per-frame cost in a node;
* with ``--detector``: detector alone and detector + referring per 640x480 frame on the chosen input
  (``fused`` includes RisFuseNet fusion, reported separately).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.data import open_dataset
from ..core.detection.merge import stream_floor
from ..core.errors import ConfigError
from ..core.feedback import SEARCH_MODES
from ..core.fusion import RuntimeOptions
from ..core.referring import Referrer
from ..core.referring.batch import INPUTS, InstanceSource
from ..core.referring.expressions import load_expressions
from ..core.referring.operating_point import resolve_operating_point
from ..core.text import encoder
from .arguments import add_data_args, add_imgsz_arg, add_runtime_args, add_score_margin_arg

DEFAULT_EXPRESSIONS = Path(__file__).resolve().parents[2] / "data" / "expressions" / "heldout.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--expressions", help=f"texts and images to use (default {DEFAULT_EXPRESSIONS})")
    parser.add_argument("--runs", type=int, default=200, help="timed referring calls (default 200)")
    parser.add_argument("--frames", type=int, default=10, help="distinct frames to cycle through (default 10)")
    parser.add_argument("--detector", help="also time this detector (a named model or .onnx path) and "
                                           "detector + referring per frame")
    parser.add_argument("--input", choices=INPUTS, default="fused", help="detector input (default fused)")
    parser.add_argument("--detector-runs", type=int, default=20, help="timed detector frames (default 20)")
    add_imgsz_arg(parser)
    add_score_margin_arg(parser)
    parser.add_argument("--thermal-stream", action=argparse.BooleanOptionalAction,
                        help="detector + referring includes the detector on the infrared frame and the merge "
                             "(default: the detector's operating point: yolox-nano-msrs on, other detectors off)")
    add_runtime_args(parser)
    parser.add_argument("--search", choices=SEARCH_MODES, default="off",
                        help="also time the referring search of a no-match (fusion: the frame fused again leaning to "
                             "infrared; source: the infrared image), detector and referring included")
    parser.add_argument("--out", help="also write bench_refer.md here")


def _stats(samples: list[float]) -> str:
    ms = np.asarray(samples) * 1000.0
    return f"{np.median(ms):.3f} | {np.percentile(ms, 90):.3f} | {ms.max():.3f} | {len(ms)}"


def _time(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _refer_in_turn(referrer: Referrer, jobs: list[tuple[str, Any, list]]) -> Callable[[], None]:
    """A call that refers the next (text, pair, instances) of ``jobs``, round robin (cached texts)."""
    order = iter(range(10 ** 9))

    def refer_next() -> None:
        text, pair, instances = jobs[next(order) % len(jobs)]
        referrer.refer(text, instances, pair.size, thermal=pair.ir)

    return refer_next


def run(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.frames < 1:
        raise ConfigError("--runs and --frames must be at least 1")
    path = Path(args.expressions) if args.expressions else DEFAULT_EXPRESSIONS
    expressions = load_expressions(path)
    dataset = open_dataset(args.dataset, args.data_root, args.split, shared=args.shared_root)
    records = {r.pair_id: r for r in dataset.records}
    images = [i for i in dict.fromkeys(e["image"] for e in expressions) if i in records][:args.frames]
    if not images:
        raise ConfigError(f"none of the images named in {path} is in {dataset.root}")
    pairs = [dataset.load(records[i]) for i in images]
    gt = InstanceSource.create("gt")
    frames = [(pair, gt(pair, dataset.class_names)) for pair in pairs]
    texts = [e["text"] for e in expressions if e["image"] in images]
    referrer = Referrer()
    start = time.perf_counter()
    referrer.parser.resolver.nearest("person")  # loads the encoder and the prototypes
    load_s = time.perf_counter() - start

    parse_order = iter(range(10 ** 9))

    def parse_fresh() -> None:
        encoder.encode_one.cache_clear()  # a text never seen: its nouns are encoded again
        referrer.parser.parse(texts[next(parse_order) % len(texts)])

    parse = _time(parse_fresh, min(args.runs, 4 * len(texts)))
    for text in texts:
        referrer.parse(text)
    jobs = [(t, pair, dets) for pair, dets in frames for t in
            [e["text"] for e in expressions if e["image"] == pair.pair_id]]

    refer = _time(_refer_in_turn(referrer, jobs), args.runs)
    n_det = np.mean([len(d) for _, d in frames])
    rows = [f"| sentence encoder load (once per process) | {load_s * 1000:.0f} | – | – | 1 |",
            f"| parse a new text (encoder loaded; encodes nouns outside the lexicon) | {_stats(parse)} |",
            f"| refer one frame, cached text, GT instances (mean {n_det:.1f}/frame), incl. mask | {_stats(refer)} |"]
    if args.detector:
        runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
        # the detector's operating point, down to its candidate floor, as the referring node runs it
        point = resolve_operating_point(args.detector, thermal_stream=args.thermal_stream,
                                        stream_applies=args.input != "infrared", score_margin=args.score_margin)
        floor = stream_floor(point.candidate_floor(), point.thermal_stream)
        referrer = Referrer(**point.referrer_scores())  # the detector's operating point, as the nodes refer
        source = InstanceSource.create("detector", args.detector, args.input, runtime, args.shared_root, floor,
                                       thermal_stream=point.thermal_stream, imgsz=args.imgsz, search=args.search)
        fused = {p.pair_id: source.fusion.fuse(p.ir, p.vis) for p in pairs} if source.fusion else {}
        image_of = {p.pair_id: fused.get(p.pair_id, p.vis if args.input != "infrared"
                                         else np.repeat(p.ir[:, :, None], 3, axis=2)) for p in pairs}
        for p in pairs[:2]:
            source.detector.detect(image_of[p.pair_id])  # warm-up
        counter = iter(range(10 ** 9))
        dets_cache: dict[str, list] = {}

        def detect_one() -> None:
            p = pairs[next(counter) % len(pairs)]
            dets_cache[p.pair_id] = source.detector.detect(image_of[p.pair_id])

        detect = _time(detect_one, args.detector_runs)
        counter2 = iter(range(10 ** 9))

        def both() -> None:
            p = pairs[next(counter2) % len(pairs)]
            dets = source.detect(image_of[p.pair_id], p.ir)  # with the thermal stream: both frames in one batch
            text = next(e["text"] for e in expressions if e["image"] == p.pair_id)
            referrer.refer(text, dets, p.size, thermal=p.ir)

        combined = _time(both, args.detector_runs)
        instances = {p.pair_id: source.detect(image_of[p.pair_id], p.ir) for p in pairs}
        referring = _time(_refer_in_turn(referrer, [(t, pair, instances[pair.pair_id]) for t, pair, _ in jobs]),
                          args.runs)
        rows.append(f"| {args.detector} on the {args.input} frame | {_stats(detect)} |")
        stream = " + the detector on the infrared frame, merged (thermal stream)" if source.thermal_stream else ""
        rows.append(f"| {args.detector}{stream} + referring (cached text) | {_stats(combined)} |")
        rows.append(f"| referring alone on those instances ({point.describe()}; mean "
                    f"{np.mean([len(v) for v in instances.values()]):.1f} down to {floor:g}/frame), cached text, "
                    f"incl. mask | {_stats(referring)} |")
        if args.search != "off":
            counter3 = iter(range(10 ** 9))

            if source.thermal_stream:  # the frame's own pass ran first in the pipeline: its thermal people are reused
                for p in pairs:
                    source.detect(image_of[p.pair_id], p.ir, p.pair_id)

            def search_one() -> None:  # a person text that found nothing: the infrared-leaning view
                p = pairs[next(counter3) % len(pairs)]
                referrer.refer("the person", source.search_detections(p, 1.0), p.size, thermal=p.ir)

            searched = _time(search_one, args.detector_runs)
            view = "the frame fused again leaning to infrared" if args.search == "fusion" else "the infrared image"
            merged = " + merged with the frame's thermal-stream people" if source.thermal_stream else ""
            rows.append(f"| search of a no-match, added to that frame: {view} + {args.detector}{merged} + referring "
                        f"| {_stats(searched)} |")
        if source.fusion is not None:
            fuse = _time(lambda: source.fusion.fuse(pairs[0].ir, pairs[0].vis), max(5, args.detector_runs // 2))
            rows.append(f"| (for reference) RisFuseNet fusion of the frame | {_stats(fuse)} |")
    header = (f"Referring cost on {len(pairs)} MSRS frames ({pairs[0].size[0]}x{pairs[0].size[1]}) with "
              f"{len(set(texts))} texts from {path.name}; {platform.machine()}, {os.cpu_count()} CPUs visible, "
              f"torch/onnxruntime threads {args.threads}.")
    table = "\n".join(["| step | median ms | p90 ms | max ms | runs |", "|---|---|---|---|---|", *rows])
    print(header + "\n\n" + table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_refer.md").write_text(f"# Referring speed\n\n{header}\n\n{table}\n", encoding="utf-8")
    return 0
