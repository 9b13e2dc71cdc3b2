"""The ``ris-fusion`` command: argument parsing only; the work is in ``ris_fusion_ros.commands``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .core.errors import RisFusionError


def _add_data_args(parser: argparse.ArgumentParser, dataset_default: str | None = None) -> None:
    parser.add_argument("--dataset", default=dataset_default,
                        help="msrs, roadscene, tno, llvip or m3fd"
                        + (f" (default {dataset_default})" if dataset_default else ""))
    parser.add_argument("--data-root", help="folder of the data set (ir/, vi/, labels/, splits/); "
                                            "default <shared>/data/<dataset>")
    parser.add_argument("--split", help="split file, or a name under <data-root>/splits/ (default: every pair)")


def _add_runtime_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "tensorrt", "torch"),
                        help="runtime for network methods (default onnxruntime)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16"), help="default fp32")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for network methods (default 2)")


def _add_common_args(parser: argparse.ArgumentParser, top_level: bool) -> None:
    """Options accepted before or after the subcommand; the subcommand's copy wins."""
    default = (lambda value: value) if top_level else (lambda value: argparse.SUPPRESS)
    parser.add_argument("--shared-root", default=default(None),
                        help="folder holding data/ and weights/ (default: $RIS_FUSION_SHARED or ../shared)")
    parser.add_argument("--no-progress", action="store_true", default=default(False), help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ris-fusion", description="Thermal + RGB fusion toolkit.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common_args(parser, top_level=True)
    common = argparse.ArgumentParser(add_help=False)
    _add_common_args(common, top_level=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="list and check data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    data_sub.add_parser("list", help="known data sets and where they are", parents=[common])
    check = data_sub.add_parser("check", help="read every pair of a data set and report problems", parents=[common])
    _add_data_args(check, "msrs")

    evaluate = sub.add_parser("eval", help="evaluations")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    fusion = eval_sub.add_parser(
        "fusion", help="fusion quality metrics of one or more methods", parents=[common],
        description="Fuse every pair with each method and write per_image.csv, summary.csv, report.md "
                    "and summary.png to --out.")
    _add_data_args(fusion)
    fusion.add_argument("--methods", help="comma-separated method names (default average,max)")
    fusion.add_argument("--out", required=True, help="output folder")
    fusion.add_argument("--config", help="YAML file with an eval_fusion section (see config/evaluation.yaml)")
    fusion.add_argument("--save-fused", action="store_true", help="also write fused images to OUT/fused/<method>/")
    fusion.add_argument("--limit", type=int, help="only the first N pairs (quick checks)")
    fusion.add_argument("--skip-bad-pairs", action="store_true",
                        help="record unreadable pairs in the report and go on instead of stopping")
    _add_runtime_args(fusion)
    fusion.add_argument("--ssim-window", choices=("uniform", "gaussian"), help="SSIM window (default uniform)")
    fusion.add_argument("--ssim-win-size", type=int, help="SSIM window size (default 7)")
    fusion.add_argument("--ssim-combine", choices=("sum", "mean"),
                        help="sum or mean over the two sources (default sum)")
    fusion.add_argument("--ssim-data-range", type=float,
                        help="SSIM data range (default 2.0 as in the CDDFuse evaluator as released; "
                             "255 is the textbook value)")
    bench = sub.add_parser("bench", help="speed benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    bench_fusion = bench_sub.add_parser("fusion", help="per-frame latency of fusion methods", parents=[common])
    bench_fusion.add_argument("--methods", default="risfusenet,max,average", help="comma-separated method names")
    bench_fusion.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    bench_fusion.add_argument("--runs", type=int, default=20, help="timed runs per method (default 20)")
    bench_fusion.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    _add_runtime_args(bench_fusion)
    bench_fusion.add_argument("--out", help="also write speed.csv and speed.md here")

    train = sub.add_parser("train", help="training")
    train_sub = train.add_subparsers(dest="train_command", required=True, metavar="WHAT")
    train_fusion = train_sub.add_parser(
        "fusion", help="train the fusion network (RoadScene, LLVIP, M3FD; never MSRS) and export it to ONNX",
        parents=[common])
    train_fusion.add_argument("--out", required=True, help="output folder (weights, ONNX, log)")
    train_fusion.add_argument("--steps", type=int, default=4000, help="optimisation steps (default 4000)")
    train_fusion.add_argument("--batch", type=int, default=16, help="crops per step (default 16)")
    train_fusion.add_argument("--crop", type=int, default=128, help="crop size in pixels (default 128)")
    train_fusion.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    train_fusion.add_argument("--width", type=int, default=24, help="network width (default 24)")
    train_fusion.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train_fusion.add_argument("--intensity-weight", type=float, default=1.0, help="intensity loss weight (default 1)")
    train_fusion.add_argument("--gradient-weight", type=float, default=1.0, help="gradient loss weight (default 1)")
    train_fusion.add_argument("--ssim-weight", type=float, default=0.1, help="SSIM loss weight (default 0.1)")
    train_fusion.add_argument("--control-emphasis", type=float, default=0.0,
                              help="extra intensity weight per unit of |control| (default 0)")
    train_fusion.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    control = eval_sub.add_parser("control", help="inclination and region control of a fusion network",
                                  parents=[common])
    _add_data_args(control, "msrs")
    control.add_argument("--method", default="risfusenet", help="fusion method taking a control map")
    control.add_argument("--limit", type=int, help="only the first N pairs")
    control.add_argument("--out", help="also write control.md here")
    _add_runtime_args(control)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "data":
            from .commands import data

            return {"list": data.list_datasets, "check": data.check_dataset}[args.data_command](args)
        if args.command == "eval":
            from .commands import eval_control, eval_fusion

            return {"fusion": eval_fusion.run, "control": eval_control.run}[args.eval_command](args)
        if args.command == "bench":
            from .commands import bench_fusion

            return {"fusion": bench_fusion.run}[args.bench_command](args)
        if args.command == "train":
            from .commands import train_fusion

            return {"fusion": train_fusion.run}[args.train_command](args)
    except RisFusionError as exc:
        print(f"ris-fusion: error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
