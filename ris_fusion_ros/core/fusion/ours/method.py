"""RisFuseNet as a FusionMethod: plain fusion, per-pixel control, text gating."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from ..network import NetworkFusion
from .saliency import ThermalSaliency

TEXT_DIM = 384
_MODEL_DIR = Path(__file__).resolve().parents[3] / "models"


def default_model_dir() -> Path:
    """Folder of the shipped weights (inside the installed package)."""
    return _MODEL_DIR


def risfusenet_artifacts(model_dir: Path | None = None):
    """ModelArtifacts for the backends: the shipped ONNX file and a PyTorch factory."""
    from ....backends import ModelArtifacts

    folder = Path(model_dir) if model_dir else default_model_dir()
    weights = folder / "risfusenet.pt"

    def torch_factory():
        from .export import load_model

        if not weights.is_file():
            raise ConfigError(f"RisFuseNet weights not found: {weights}")
        return load_model(weights)

    profile = {name: ((1, 1, 32, 32), (1, 1, 480, 640), (1, 1, 1088, 1920)) for name in ("ir", "vis", "control")}
    profile["text"] = ((1, TEXT_DIM), (1, TEXT_DIM), (1, TEXT_DIM))
    return ModelArtifacts("risfusenet", ("ir", "vis", "control", "text"), ("fused",),
                          onnx_path=folder / "risfusenet.onnx", torch_factory=torch_factory,
                          dynamic_shape_profile=profile)


def _parameter_count(onnx_path: Path | None) -> int | str:
    """Parameter count recorded next to the weights (training.json / risfusenet.json)."""
    meta = Path(onnx_path).with_suffix(".json") if onnx_path else None
    if meta is None or not meta.is_file():
        return "unknown"
    return int(json.loads(meta.read_text()).get("parameters", 0)) or "unknown"


class RisFuseNetFusion(NetworkFusion):
    """RisFuseNet behind a backend. ``fuse``/``fuse_luminance`` accept an optional ``control``
    map (HxW in [-1, 1]: +1 leans fully toward infrared, -1 toward visible, 0 = plain) and an
    optional ``text`` embedding (TEXT_DIM floats) for text-gated fusion.

    ``saliency``: the thermal-saliency control added to every frame (warm objects lean to infrared,
    see :mod:`.saliency`); ``ThermalSaliency(strength=0)`` is the plain network ("risfusenet-plain")."""

    def __init__(self, backend: str = "onnxruntime", device: str = "cpu", precision: str = "fp32",
                 threads: int = 2, model_dir: Path | None = None, saliency: ThermalSaliency | None = None,
                 name: str = "risfusenet") -> None:
        from ....backends import create_backend

        artifacts = risfusenet_artifacts(model_dir)
        self.saliency = ThermalSaliency() if saliency is None else saliency
        description = "RisFuseNet (ours): low-resolution context, full-resolution local fusion rule"
        if self.saliency.enabled:
            description += f", thermal-saliency control (strength {self.saliency.strength:g})"
        super().__init__(
            name, description,
            lambda: create_backend(artifacts, backend, device=device, precision=precision, threads=threads),
            extra_info={"parameters": _parameter_count(artifacts.onnx_path),
                        "thermal_saliency": self.saliency.strength},
        )

    conditioning = ("control", "text")

    def fuse_luminance(self, ir: np.ndarray, vis_y: np.ndarray, control: np.ndarray | None = None,
                       text: np.ndarray | None = None, **unused: object) -> np.ndarray:
        if control is not None:  # the caller's map is checked before the saliency is blended into it
            control = np.asarray(control, dtype=np.float32)
            if control.shape != ir.shape:
                raise DataError(f"control map is {control.shape[::-1]} (WxH) but the images are {ir.shape[::-1]}")
            if not np.isfinite(control).all():
                raise DataError("control map contains NaN or infinite values")
        control = self.saliency.combine(ir, control)
        if control is None:
            control = np.zeros_like(ir, dtype=np.float32)
        text = np.zeros(TEXT_DIM, np.float32) if text is None else np.asarray(text, np.float32).reshape(-1)
        if text.shape != (TEXT_DIM,) or not np.isfinite(text).all():
            raise DataError(f"text embedding must be {TEXT_DIM} finite values, got shape {text.shape}")
        inputs = {"ir": ir[None, None].astype(np.float32), "vis": vis_y[None, None].astype(np.float32),
                  "control": np.clip(control, -1.0, 1.0)[None, None], "text": text[None]}
        return self.backend.run(inputs)[0][0, 0]
