"""``ris-fusion export detector``: write a detector's ONNX file, from the shared YOLOv5n(-seg)
weights (``--model``) or from a checkpoint ``train detector`` wrote (``--checkpoint``).

The file has a dynamic batch, height and width (any multiple of 32), outputs in the model's
layout and the class names in its metadata. Files derived from the YOLOv5 weights are AGPL-3.0:
keep them out of the repository and of any permissively licensed release.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import ConfigError

EXPORTABLE = ("yolov5n", "yolov5n-seg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", choices=EXPORTABLE, help="which shared detector to export")
    source.add_argument("--checkpoint", help="a .pt file written by train detector (YOLOv5n or YOLOX-Nano)")
    parser.add_argument("--out", help="ONNX file to write (default: --model: the model cache, where create_detector "
                                      "looks; --checkpoint: beside it, .onnx)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--check", action="store_true",
                        help="run the exported file and the PyTorch definition on one frame and compare")


def run(args: argparse.Namespace) -> int:
    from ..core.detection.detector import WEIGHT_FILES, weights_dir
    from ..core.detection.export import export_checkpoint, export_yolov5, is_yolox_checkpoint

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != ".onnx":
        raise ConfigError(f"--out must name an .onnx file, got {out}")
    if args.checkpoint:
        weights = Path(args.checkpoint)
        path = export_checkpoint(weights, out, opset=args.opset)
        licence = "Apache-2.0 (YOLOX-Nano)" if is_yolox_checkpoint(weights) else "AGPL-3.0: do not redistribute"
        label = weights.name
    else:
        weights = weights_dir(args.shared_root) / WEIGHT_FILES[args.model]
        path = export_yolov5(weights, out, force=out is not None, opset=args.opset)
        licence, label = "AGPL-3.0: do not redistribute", args.model
    print(f"{label}: {path} ({path.stat().st_size / 1e6:.1f} MB; input 'images' [batch, 3, H, W], H and W "
          f"multiples of 32; weights {licence})")
    if args.check:
        print(_check(weights, path))
    return 0


def _check(weights: Path, onnx_path: Path) -> str:
    """Largest absolute difference between ONNX Runtime and PyTorch outputs on a random 480x640 input."""
    import numpy as np
    import torch

    from ..backends.onnxruntime_backend import OnnxRuntimeBackend
    from ..core.detection.export import checkpoint_module

    x = np.random.default_rng(0).random((1, 3, 480, 640), dtype=np.float32)
    ort_out = OnnxRuntimeBackend(onnx_path, threads=2).run({"images": x})
    with torch.inference_mode():
        ref = checkpoint_module(weights)(torch.from_numpy(x))
    ref = ref if isinstance(ref, tuple) else (ref,)
    diffs = [float(np.abs(a - b.numpy()).max()) for a, b in zip(ort_out, ref, strict=True)]
    return "check on a random 480x640 input, max |ONNX - PyTorch| per output: " + ", ".join(f"{d:.2e}" for d in diffs)
