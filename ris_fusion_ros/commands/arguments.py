"""Argument groups shared by several ``ris-fusion`` subcommands (one definition each)."""

from __future__ import annotations

import argparse


def comma_list(text: str | None) -> list[str]:
    """The items of a comma-separated option, stripped, empty ones dropped (``None`` -> [])."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def add_data_args(parser: argparse.ArgumentParser, dataset_default: str | None = None) -> None:
    """--dataset / --data-root / --split: which pairs to read, on any folder of the same layout."""
    parser.add_argument("--dataset", default=dataset_default,
                        help="msrs, roadscene, tno, llvip or m3fd"
                        + (f" (default {dataset_default})" if dataset_default else ""))
    parser.add_argument("--data-root", help="folder of the data set (ir/, vi/, labels/, splits/); "
                                            "default <shared>/data/<dataset>")
    parser.add_argument("--split", help="split file, or a name under <data-root>/splits/ (default: every pair)")


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """--backend / --device / --precision / --threads for network methods."""
    parser.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "tensorrt", "torch"),
                        help="runtime for network methods (default onnxruntime)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16"), help="default fp32")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for network methods (default 2)")


def add_common_args(parser: argparse.ArgumentParser, top_level: bool) -> None:
    """Options accepted before or after the subcommand; the subcommand's copy wins."""
    default = (lambda value: value) if top_level else (lambda value: argparse.SUPPRESS)
    parser.add_argument("--shared-root", default=default(None),
                        help="folder holding data/ and weights/ (default: $RIS_FUSION_SHARED or ../shared)")
    parser.add_argument("--no-progress", action="store_true", default=default(False), help="no progress bars")


def add_score_margin_arg(parser: argparse.ArgumentParser) -> None:
    """``--score-margin``: the referrer's weighing of uncertain detections (None = the detector's operating point)."""
    parser.add_argument("--score-margin", type=float,
                        help="referring: detections of the text's classes within --conf +- this are weighed as "
                             "uncertain and the most probable answer wins (0 = a hard floor; default: the "
                             "detector's operating point)")


def add_imgsz_arg(parser: argparse.ArgumentParser) -> None:
    """``--imgsz``: the detector's letterbox size (None = the model's own)."""
    parser.add_argument("--imgsz", type=int,
                        help="detector letterbox size, a multiple of 32 (default: the size the model was trained at, "
                             "from its ONNX metadata, else 640)")
