"""``ris-fusion bench live``: fused-output rate and latency of the nodes with real rclpy (needs the ROS env)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

from ..core.data.datasets import open_dataset
from ..core.errors import ConfigError
from .arguments import add_data_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--modes", default="fusion,full", help="fusion (fusion_node only) and/or full (default both)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per mode (default 20)")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before measuring (default 4)")
    parser.add_argument("--rate", type=float, default=30.0, help="input rate in Hz (default 30)")
    parser.add_argument("--pairs", type=int, default=8, help="distinct MSRS pairs cycled (default 8)")
    parser.add_argument("--fusion-method", default="risfusenet")
    parser.add_argument("--param", action="append", default=[], metavar="[NODE:]NAME:=VALUE",
                        help="a node parameter for the measured nodes, as after `--ros-args -p` (repeatable; e.g. "
                             "detection_node:threads:=1, detector:=yolox-nano)")
    parser.add_argument("--out", help="write results.json here")


def ros_params(items: list[str]) -> list[str]:
    """``--param`` values as ROS arguments (``-p NAME:=VALUE`` each); ConfigError for one without ``:=``."""
    args: list[str] = []
    for item in items:
        if ":=" not in item or not item.split(":=", 1)[0].strip():
            raise ConfigError(f"--param takes [NODE:]NAME:=VALUE, got {item!r}")
        args += ["-p", item]
    return args


def run(args: argparse.Namespace) -> int:
    from ..nodes.bench_live import run_live

    ros_args = ros_params(args.param)
    dataset = open_dataset(args.dataset, args.data_root, args.split, getattr(args, "shared_root", None))
    pairs = [(p.ir, p.vis) for p in (dataset[i] for i in range(min(args.pairs, len(dataset))))]
    size = f"{pairs[0][1].shape[1]}x{pairs[0][1].shape[0]}"
    print(f"input: {len(pairs)} {args.dataset} pairs ({size}) cycled at {args.rate} Hz; machine "
          f"{platform.machine()}, {os.cpu_count()} CPUs; nodes in a separate process"
          + (f"; parameters {' '.join(args.param)}" if args.param else ""))
    results = []
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        result = run_live(pairs, mode, args.seconds, args.warmup, args.rate, args.fusion_method,
                          extra_ros_args=ros_args)
        results.append(result.__dict__)
        print(f"\n[{mode}] {result.published_pairs} pairs published in {args.seconds:.0f} s; "
              f"node exit {result.exit_code}; {result.transport}")
        print("| output | received | rate Hz | source->receive p50 ms | p99 ms |")
        print("|---|---|---|---|---|")
        for key, n in result.received.items():
            lat = result.latency_ms.get(key, {})
            print(f"| {key} | {n} | {result.rate_hz[key]:.1f} | {lat.get('p50', np.nan):.1f} | "
                  f"{lat.get('p99', np.nan):.1f} |")
        for name, values in result.node_diagnostics.items():
            print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0
