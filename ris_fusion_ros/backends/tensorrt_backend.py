"""TensorRT backend (TensorRT 10 API): engine built from the ONNX file on the target GPU,
optionally fp16, cached by :mod:`.engine_cache` and rebuilt only when its key changes.

TensorRT and a CUDA GPU are needed at run time; device buffers are PyTorch CUDA tensors.
Importing this module without TensorRT works; creating the backend then raises BackendError.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .base import BackendError, InferenceBackend
from .engine_cache import (
    EngineKey,
    default_cache_dir,
    engine_path,
    file_sha256,
    profile_string,
    read_engine,
    write_engine,
)

LOG = logging.getLogger(__name__)


def tensorrt_available() -> tuple[bool, str]:
    """(True, version) when TensorRT and a CUDA device can be used, else (False, the reason)."""
    try:
        import tensorrt as trt
    except ImportError:
        return False, "TensorRT is not installed (pip install tensorrt on a machine with an NVIDIA GPU)"
    try:
        import torch
    except ImportError:
        return False, "PyTorch (CUDA build) is needed for TensorRT device buffers"
    if not torch.cuda.is_available():
        return False, "no CUDA device is available"
    return True, trt.__version__


class TensorRTBackend(InferenceBackend):
    name = "tensorrt"

    def __init__(self, onnx_path: Path, *, precision: str = "fp32", cache_dir: Path | None = None,
                 shape_profile: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] | None = None,
                 workspace_bytes: int = 1 << 30) -> None:
        ok, detail = tensorrt_available()
        if not ok:
            raise BackendError(f"tensorrt backend unavailable: {detail}")
        if precision not in ("fp32", "fp16"):
            raise BackendError(f"tensorrt: precision must be fp32 or fp16, got '{precision}'")
        import tensorrt as trt
        import torch

        self._trt, self._torch = trt, torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        profile = dict(shape_profile or {})
        props = torch.cuda.get_device_properties(0)
        self.key = EngineKey(file_sha256(onnx_path), trt.__version__,
                             f"{props.name} sm_{props.major}{props.minor}", precision, profile_string(profile))
        self.engine_file = engine_path(cache_dir or default_cache_dir(), onnx_path, self.key)
        engine_bytes = read_engine(self.engine_file, self.key)
        self.built_now = engine_bytes is None
        if engine_bytes is None:
            LOG.warning("building TensorRT engine for %s (%s); cached at %s", onnx_path, precision, self.engine_file)
            engine_bytes = self._build(Path(onnx_path), precision, profile, workspace_bytes)
            write_engine(self.engine_file, engine_bytes, self.key)
        runtime = trt.Runtime(self._logger)
        self._engine = runtime.deserialize_cuda_engine(engine_bytes)
        if self._engine is None:
            raise BackendError(f"tensorrt: cannot deserialise engine {self.engine_file}")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        is_input = {n: self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self._inputs = [n for n in names if is_input[n]]
        self._outputs = [n for n in names if not is_input[n]]
        self._precision, self._onnx = precision, str(onnx_path)

    def _build(self, onnx_path: Path, precision: str, profile: dict, workspace_bytes: int) -> bytes:
        trt = self._trt
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(onnx_path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendError(f"tensorrt cannot parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        if profile:
            opt = builder.create_optimization_profile()
            for name, (lo, mid, hi) in profile.items():
                opt.set_shape(name, lo, mid, hi)
            config.add_optimization_profile(opt)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendError(f"tensorrt failed to build an engine from {onnx_path}")
        return bytes(serialized)

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        self._check_inputs(inputs)
        torch, trt = self._torch, self._trt
        keep = []
        for name in self._inputs:
            dtype = torch.from_numpy(np.empty(0, trt.nptype(self._engine.get_tensor_dtype(name)))).dtype
            tensor = torch.from_numpy(np.ascontiguousarray(inputs[name])).to("cuda", dtype)
            self._context.set_input_shape(name, tuple(tensor.shape))
            self._context.set_tensor_address(name, tensor.data_ptr())
            keep.append(tensor)
        outputs = []
        for name in self._outputs:
            shape = tuple(self._context.get_tensor_shape(name))
            dtype = torch.from_numpy(np.empty(0, trt.nptype(self._engine.get_tensor_dtype(name)))).dtype
            tensor = torch.empty(shape, dtype=dtype, device="cuda")
            self._context.set_tensor_address(name, tensor.data_ptr())
            outputs.append(tensor)
        stream = torch.cuda.current_stream()
        if not self._context.execute_async_v3(stream.cuda_stream):
            raise BackendError("tensorrt: execution failed")
        stream.synchronize()
        return [o.float().cpu().numpy() for o in outputs]

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "device": "cuda", "precision": self._precision, "model": self._onnx,
                "engine": str(self.engine_file), "engine_built_now": self.built_now,
                "tensorrt": self.key.tensorrt_version, "gpu": self.key.gpu}

    def close(self) -> None:
        self._context = None
        self._engine = None
        self._torch.cuda.empty_cache()
