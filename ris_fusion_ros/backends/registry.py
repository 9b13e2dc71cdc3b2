"""Create a backend for a model by runtime name: one entry point for every caller."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import BackendError, InferenceBackend

BACKEND_KINDS = ("onnxruntime", "tensorrt", "torch")


@dataclass
class ModelArtifacts:
    """What a model offers to the runtimes: an ONNX file (ONNX Runtime, TensorRT) and/or a
    factory of the PyTorch module (PyTorch backend). ``dynamic_shape_profile`` gives
    TensorRT its (min, opt, max) shapes per input."""

    name: str
    input_names: Sequence[str]
    output_names: Sequence[str]
    onnx_path: Path | None = None
    torch_factory: Callable[[], Any] | None = None
    dynamic_shape_profile: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=dict)


def create_backend(model: ModelArtifacts, kind: str = "onnxruntime", *, device: str = "cpu",
                   precision: str = "fp32", threads: int = 0, cache_dir: Path | None = None) -> InferenceBackend:
    """Build the named runtime for ``model``; BackendError says what is missing and how to get it."""
    if kind == "onnxruntime":
        if precision != "fp32":
            raise BackendError("onnxruntime backend runs fp32 models; use tensorrt or torch for fp16")
        return _onnxruntime(model, device, threads)
    if kind == "torch":
        if model.torch_factory is None:
            raise BackendError(f"{model.name} has no PyTorch definition; use onnxruntime or tensorrt")
        from .torch_backend import TorchBackend

        return TorchBackend(model.torch_factory(), model.input_names, model.output_names,
                            device=device, precision=precision, threads=threads)
    if kind == "tensorrt":
        from .tensorrt_backend import TensorRTBackend

        onnx_path = _need_onnx(model, kind)
        return TensorRTBackend(onnx_path, precision=precision, cache_dir=cache_dir,
                               shape_profile=model.dynamic_shape_profile)
    raise BackendError(f"unknown backend '{kind}'; choose one of {', '.join(BACKEND_KINDS)}")


def _need_onnx(model: ModelArtifacts, kind: str) -> Path:
    if model.onnx_path is None or not Path(model.onnx_path).is_file():
        raise BackendError(f"{kind} needs the ONNX file of {model.name} ({model.onnx_path}); "
                           "create it with `ris-fusion export`")
    return Path(model.onnx_path)


def _onnxruntime(model: ModelArtifacts, device: str, threads: int) -> InferenceBackend:
    from .onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(_need_onnx(model, "onnxruntime"), device=device, threads=threads)
