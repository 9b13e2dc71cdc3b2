"""``ris-fusion bench detect``: milliseconds per 640x480 frame for each detector.

One ``Detector.detect`` call is timed end to end (letterbox, inference, decoding, NMS, masks),
on a real MSRS visible frame when the data is present; median and 90th percentile over
``--runs`` calls after ``--warmup`` untimed ones.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from ..core.detection import NAMED_MODELS, create_detector
from ..core.evaluation.speed import benchmark_frame, parse_size
from ..core.fusion import RuntimeOptions
from .arguments import add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detectors", default=",".join(NAMED_MODELS),
                        help=f"comma-separated: {', '.join(NAMED_MODELS)} or .onnx paths (default all of them)")
    parser.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per detector (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--imgsz", type=int, help="letterbox size of dynamic-size models (default 640)")
    add_runtime_args(parser)


def time_detector(detector, image: np.ndarray, runs: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        detector.detect(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detections = detector.detect(image)
        times.append((time.perf_counter() - start) * 1000.0)
    ordered = sorted(times)
    fed_h, fed_w = detector.fed_size(image)
    return {"median": statistics.median(times), "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "min": ordered[0], "detections": len(detections), "fed": f"{fed_w}x{fed_h}"}


def run(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
    _, vis, source = benchmark_frame(width, height, args.shared_root)
    lines = ["| detector | backend | threads | model input (this frame) | median ms | p90 ms | min ms | detections |",
             "|---|---|---|---|---|---|---|---|"]
    for name in (n.strip() for n in args.detectors.split(",") if n.strip()):
        options = {"imgsz": args.imgsz} if args.imgsz and not name.startswith("yolox") else {}
        detector = create_detector(name, runtime, shared=args.shared_root, **options)
        info = detector.info()
        t = time_detector(detector, vis, args.runs, args.warmup)
        lines.append(f"| {info['model']} | {info['backend']} | {info.get('threads', '')} | {t['fed']} | "
                     f"{t['median']:.1f} | {t['p90']:.1f} | {t['min']:.1f} | {t['detections']} |")
        detector.close()
    print(f"Detector latency on {source} (visible), one `detect` call (letterbox + inference + decode + NMS + "
          f"masks), {args.runs} timed runs after {args.warmup} warm-up runs; {platform.machine()}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f} at the end.\n")
    print("\n".join(lines))
    return 0
