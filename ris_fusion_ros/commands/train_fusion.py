"""``ris-fusion train fusion``: train RisFuseNet (seeded, reproducible) and export it to ONNX."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (weights, ONNX, log)")
    parser.add_argument("--steps", type=int, default=4000, help="optimisation steps (default 4000)")
    parser.add_argument("--batch", type=int, default=16, help="crops per step (default 16)")
    parser.add_argument("--crop", type=int, default=128, help="crop size in pixels (default 128)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    parser.add_argument("--width", type=int, default=24, help="network width (default 24)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--intensity-weight", type=float, default=1.0, help="intensity loss weight (default 1)")
    parser.add_argument("--gradient-weight", type=float, default=1.0, help="gradient loss weight (default 1)")
    parser.add_argument("--ssim-weight", type=float, default=0.1, help="SSIM loss weight (default 0.1)")
    parser.add_argument("--control-emphasis", type=float, default=0.0,
                        help="extra intensity weight per unit of |control| (default 0)")
    parser.add_argument("--detail-gain", type=float, default=1.0,
                        help="gradient target = strongest source gradient x this (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--text-probability", type=float, default=0.0,
                        help="share of crops with a text prompt, to train the text gate (default 0; "
                             "needs the sentence encoder)")
    parser.add_argument("--text-strength", type=float, default=0.8,
                        help="inclination a prompt asks for, as a control value (default 0.8)")
    parser.add_argument("--init", help="risfusenet.pt to start from (fine-tuning)")
    parser.add_argument("--detection-weight", type=float, default=0.0,
                        help="weight of the detection-driven term: a frozen YOLOv5n's loss on the fused frame "
                             "against pseudo-labels of the training pairs (default 0 = off)")
    parser.add_argument("--detection-batch", type=int, default=4, help="frames per step for that term (default 4)")


def run(args: argparse.Namespace) -> int:
    from ..core.fusion.ours.export import export_onnx
    from ..core.fusion.ours.losses import FusionLossWeights
    from ..core.fusion.ours.train import TrainConfig, train

    weights_cfg = FusionLossWeights(args.intensity_weight, args.gradient_weight, args.ssim_weight,
                                    args.control_emphasis, args.detail_gain)
    config = TrainConfig(steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr, seed=args.seed,
                         threads=args.threads, width=args.width, loss=weights_cfg,
                         text_probability=args.text_probability, text_strength=args.text_strength,
                         init=args.init, detection_weight=args.detection_weight,
                         detection_batch=args.detection_batch)
    out = Path(args.out)
    command = "ris-fusion " + shlex.join(sys.argv[1:])
    weights = train(config, out, shared=args.shared_root, progress=not args.no_progress, command=command)
    onnx_path = export_onnx(weights, out / "risfusenet.onnx")
    print(f"wrote {weights}, {onnx_path}, {out / 'training_log.csv'}, {out / 'training.json'}")
    return 0
