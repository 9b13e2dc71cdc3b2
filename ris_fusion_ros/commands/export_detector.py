"""``ris-fusion export detector``: write a YOLOv5n(-seg) ONNX file from the shared weights.

The file has a dynamic batch, height and width (any multiple of 32), outputs in the YOLOv5
layout and the class names in its metadata. It is derived from AGPL-3.0 weights: keep it out
of the repository and of any permissively licensed release.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import ConfigError

EXPORTABLE = ("yolov5n", "yolov5n-seg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=EXPORTABLE, help="which detector to export")
    parser.add_argument("--out", help="ONNX file to write (default: the model cache, where create_detector looks)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--check", action="store_true",
                        help="run the exported file and the PyTorch definition on one frame and compare")


def run(args: argparse.Namespace) -> int:
    from ..core.detection.detector import WEIGHT_FILES, weights_dir
    from ..core.detection.export import export_yolov5

    weights = weights_dir(args.shared_root) / WEIGHT_FILES[args.model]
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != ".onnx":
        raise ConfigError(f"--out must name an .onnx file, got {out}")
    path = export_yolov5(weights, out, force=out is not None, opset=args.opset)
    print(f"{args.model}: {path} ({path.stat().st_size / 1e6:.1f} MB; input 'images' [batch, 3, H, W], H and W "
          "multiples of 32; weights AGPL-3.0: do not redistribute)")
    if args.check:
        print(_check(weights, path))
    return 0


def _check(weights: Path, onnx_path: Path) -> str:
    """Largest absolute difference between ONNX Runtime and PyTorch outputs on a random 480x640 input."""
    import numpy as np
    import torch

    from ..backends.onnxruntime_backend import OnnxRuntimeBackend
    from ..core.detection.yolov5 import build_yolov5

    x = np.random.default_rng(0).random((1, 3, 480, 640), dtype=np.float32)
    ort_out = OnnxRuntimeBackend(onnx_path, threads=2).run({"images": x})
    with torch.inference_mode():
        ref = build_yolov5(weights)(torch.from_numpy(x))
    ref = ref if isinstance(ref, tuple) else (ref,)
    diffs = [float(np.abs(a - b.numpy()).max()) for a, b in zip(ort_out, ref, strict=True)]
    return "check on a random 480x640 input, max |ONNX - PyTorch| per output: " + ", ".join(f"{d:.2e}" for d in diffs)
