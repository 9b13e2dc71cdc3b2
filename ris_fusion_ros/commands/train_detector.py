"""``ris-fusion train detector``: fine-tune YOLOv5n(-seg) on fused frames of a labelled split.

Only for pairs that are not measured afterwards: pass the training split here and the other split
to ``eval detect`` / ``eval refer``. The result is derived from AGPL-3.0 weights, so it is written
to the model cache (or ``--out``), never into the repository; the exact command is stored beside it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .arguments import add_data_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--model", default="yolov5n-seg", choices=("yolov5n", "yolov5n-seg"),
                        help="base detector (default yolov5n-seg)")
    parser.add_argument("--fusion", default="risfusenet", help="fusion method whose frames it trains on "
                                                               "(default risfusenet)")
    parser.add_argument("--out", help="checkpoint path (.pt); default <model cache>/detectors/finetuned/"
                                      "<model>-<fusion>-<split>-f<freeze>-s<seed>.pt")
    parser.add_argument("--epochs", type=int, default=30, help="default 30")
    parser.add_argument("--batch", type=int, default=8, help="default 8")
    parser.add_argument("--lr", type=float, default=0.01, help="peak learning rate (default 0.01)")
    parser.add_argument("--freeze", type=int, default=10,
                        help="layers kept frozen, from the input (default 10 = the backbone; 0 = train all)")
    parser.add_argument("--seed", type=int, default=0, help="default 0")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def default_output(model: str, fusion: str, split: str | None, seed: int, freeze: int) -> Path:
    from ..core.paths import model_cache_dir

    split_name = Path(split).stem if split else "all"
    return model_cache_dir() / "detectors" / "finetuned" / f"{model}-{fusion}-{split_name}-f{freeze}-s{seed}.pt"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..core.data import open_dataset
    from ..core.detection.detector import WEIGHT_FILES, weights_dir
    from ..core.detection.export import export_yolov5
    from ..core.detection.finetune.samples import build_samples
    from ..core.detection.finetune.trainer import FinetuneConfig, finetune
    from ..core.detection.yolov5 import class_names
    from ..core.fusion import RuntimeOptions, create_method

    dataset = open_dataset(args.dataset, args.data_root, split=args.split, shared=args.shared_root)
    base = weights_dir(args.shared_root) / WEIGHT_FILES[args.model]
    fusion = create_method(args.fusion, RuntimeOptions(threads=args.threads))
    samples = build_samples(dataset, lambda pair: fusion.fuse(pair.ir, pair.vis), class_names(base),
                            progress=lambda items: tqdm(items, desc=f"fuse ({args.fusion})", unit="pair",
                                                        disable=args.no_progress))
    out = Path(args.out) if args.out else default_output(args.model, args.fusion, args.split, args.seed, args.freeze)
    config = FinetuneConfig(epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed, threads=args.threads,
                            frozen_layers=args.freeze)
    provenance = {"command": "ris-fusion " + shlex.join(sys.argv[1:]), "dataset": str(dataset.root),
                  "split": args.split, "fusion": args.fusion}
    checkpoint = finetune(base, samples, config, out, provenance=provenance, progress=not args.no_progress)
    onnx_path = export_yolov5(checkpoint, checkpoint.with_suffix(".onnx"), force=True)
    print(f"trained on {len(samples)} pairs of {dataset.root} ({args.split or 'all'}); wrote {checkpoint}, "
          f"{onnx_path}, {checkpoint.with_suffix('.csv')}, {checkpoint.with_suffix('.json')}")
    print(f"use it with: --detectors {onnx_path}")
    return 0
