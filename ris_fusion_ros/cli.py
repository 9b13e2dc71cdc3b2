"""The ``ris-fusion`` command: a table of subcommands; each lives in ``ris_fusion_ros.commands``.

A command module provides ``add_arguments(parser)`` (optional) and a ``run(args) -> int``
function; registering a new subcommand is one line in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from . import __version__
from .commands.arguments import add_common_args
from .core.errors import RisFusionError


@dataclass(frozen=True)
class Command:
    """One subcommand: its words on the command line, where it lives, one line of help."""

    words: tuple[str, ...]
    module: str
    help: str
    run: str = "run"
    arguments: str | None = "add_arguments"
    description: str | None = None


#: Command groups (first word) with their help; a command whose words are one word stands alone.
GROUPS = {
    "data": "list and check data sets",
    "eval": "evaluations",
    "bench": "speed benchmarks",
    "export": "export models to ONNX",
    "train": "training",
}

COMMANDS: tuple[Command, ...] = (
    Command(("data", "list"), "data", "known data sets and where they are", run="list_datasets", arguments=None),
    Command(("data", "check"), "data", "read every pair of a data set and report problems",
            run="check_dataset", arguments="add_check_arguments"),
    Command(("eval", "detect"), "eval_detect", "detection mAP (COCO evaluator) on visible, infrared and fused inputs"),
    Command(("bench", "detect"), "bench_detect", "per-frame latency of the detectors"),
    Command(("export", "detector"), "export_detector", "export YOLOv5n / YOLOv5n-seg to ONNX (dynamic batch and size)"),
    Command(("eval", "fusion"), "eval_fusion", "fusion quality metrics of one or more methods",
            description="Fuse every pair with each method and write per_image.csv, summary.csv, report.md "
                        "and summary.png to --out."),
    Command(("eval", "control"), "eval_control", "inclination and region control of a fusion network"),
    Command(("eval", "edit"), "eval_edit", "TeRF-Table-2-style results of the text-commanded edits"),
    Command(("bench", "fusion"), "bench_fusion", "per-frame latency of fusion methods"),
    Command(("bench", "edit"), "bench_edit", "per-frame cost of text-commanded edits"),
    Command(("edit",), "edit", "fuse one pair and apply a text command (e.g. 'brighten the person')"),
    Command(("refer-batch",), "refer_batch", "referring segmentation for every expression of a JSON file"),
    Command(("eval", "refer"), "eval_refer", "referring accuracy@0.5, mIoU and no-match accuracy per expression type"),
    Command(("eval", "refer-folds"), "eval_refer_folds", "out-of-fold referring score of two fold models, weighed to a "
            "reference set's mix of expression types"),
    Command(("eval", "feedback"), "eval_feedback", "referring, detection and region fusion metrics without vs with "
            "the referred mask fed back into fusion"),
    Command(("bench", "refer"), "bench_refer", "per-frame cost of the referring step and of text parsing"),
    Command(("make-bag",), "make_bag", "build a thermal + RGB test bag (30 Hz, mono16 thermal with its own clock, "
            "jitter, drops, texts) from image pairs"),
    Command(("replay",), "replay", "run the node pipeline offline over a ROS 2 bag; write every output to a new bag "
            "and a report"),
    Command(("bench", "live"), "bench_live", "live rate and latency of the nodes with real rclpy"),
    Command(("train", "fusion"), "train_fusion",
            "train the fusion network (RoadScene, LLVIP, M3FD; never MSRS) and export it to ONNX"),
    Command(("train", "detector"), "train_detector",
            "fine-tune YOLOv5n(-seg) or YOLOX-Nano on fused frames of a labelled split (measure on the other split)"),
)


def _load(command: Command, attribute: str):
    module = importlib.import_module(f"{__package__}.commands.{command.module}")
    return getattr(module, attribute)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ris-fusion", description="Thermal + RGB fusion toolkit.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_common_args(parser, top_level=True)
    common = argparse.ArgumentParser(add_help=False)
    add_common_args(common, top_level=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for command in COMMANDS:
        if len(command.words) == 1:
            target = sub
        else:
            group = command.words[0]
            if group not in groups:
                group_parser = sub.add_parser(group, help=GROUPS[group])
                groups[group] = group_parser.add_subparsers(dest=f"{group}_command", required=True, metavar="WHAT")
            target = groups[group]
        leaf = target.add_parser(command.words[-1], help=command.help, parents=[common],
                                 description=command.description or command.help)
        if command.arguments:
            _load(command, command.arguments)(leaf)
        leaf.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    command: Command = args._command
    try:
        return int(_load(command, command.run)(args))
    except RisFusionError as exc:
        print(f"ris-fusion: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
