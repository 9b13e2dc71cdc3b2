"""``ris-fusion bench fusion``: per-frame latency of fusion methods at one frame size."""

from __future__ import annotations

import argparse
import csv
import os
import platform
from pathlib import Path

from ..core.evaluation.speed import benchmark_frame, parse_size, speed_table, time_methods
from ..core.fusion import RuntimeOptions, create_method
from .arguments import add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", default="risfusenet,max,average", help="comma-separated method names")
    parser.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per method (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    add_runtime_args(parser)
    parser.add_argument("--out", help="also write speed.csv and speed.md here")


def run(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
    methods = [create_method(name.strip(), runtime) for name in args.methods.split(",") if name.strip()]
    ir, vis, source = benchmark_frame(width, height, args.shared_root)
    results = time_methods(methods, ir, vis, warmup=args.warmup, runs=args.runs)
    table = speed_table(results)
    header = (f"Fusion latency, {source}; {args.runs} timed runs after {args.warmup} warm-up runs per method; "
              f"{platform.machine()}, {os.cpu_count()} CPUs; one `fuse` call incl. colour conversion.")
    print(header + "\n\n" + table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        rows = [r.as_row() for r in results]
        with (out / "speed.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        (out / "speed.md").write_text(f"# Fusion speed\n\n{header}\n\n{table}\n", encoding="utf-8")
    return 0
