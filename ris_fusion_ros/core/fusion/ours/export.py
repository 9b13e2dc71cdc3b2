"""Load trained RisFuseNet weights and export them to ONNX (dynamic height and width)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .model import TEXT_DIM, RisFuseNet

INPUT_NAMES = ("ir", "vis", "control", "text")
OUTPUT_NAMES = ("fused",)


def load_model(weights: Path) -> RisFuseNet:
    """A RisFuseNet in eval mode with the weights of a ``risfusenet.pt`` file (strict)."""
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    model = RisFuseNet(width=int(checkpoint["config"]["width"]))
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return model.eval()


def export_onnx(weights: Path, out_path: Path, opset: int = 17) -> Path:
    """Write the ONNX graph; inputs ir/vis/control are N,1,H,W with dynamic N, H, W."""
    model = load_model(weights)
    example = (torch.rand(1, 1, 64, 96), torch.rand(1, 1, 64, 96), torch.zeros(1, 1, 64, 96), torch.zeros(1, TEXT_DIM))
    dynamic = {name: {0: "batch", 2: "height", 3: "width"} for name in ("ir", "vis", "control", "fused")}
    dynamic["text"] = {0: "batch"}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, str(out_path), input_names=list(INPUT_NAMES),
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic, opset_version=opset, dynamo=False)
    return out_path
