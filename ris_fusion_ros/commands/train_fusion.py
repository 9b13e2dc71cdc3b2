"""``ris-fusion train fusion``: train RisFuseNet (seeded, reproducible) and export it to ONNX."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..core.fusion.ours.export import export_onnx
    from ..core.fusion.ours.losses import FusionLossWeights
    from ..core.fusion.ours.train import TrainConfig, train

    weights_cfg = FusionLossWeights(args.intensity_weight, args.gradient_weight, args.ssim_weight,
                                    args.control_emphasis)
    config = TrainConfig(steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr, seed=args.seed,
                         threads=args.threads, width=args.width, loss=weights_cfg)
    out = Path(args.out)
    command = "ris-fusion " + shlex.join(sys.argv[1:])
    weights = train(config, out, shared=args.shared_root, progress=not args.no_progress, command=command)
    onnx_path = export_onnx(weights, out / "risfusenet.onnx")
    print(f"wrote {weights}, {onnx_path}, {out / 'training_log.csv'}, {out / 'training.json'}")
    return 0
