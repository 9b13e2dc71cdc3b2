"""PyTorch backend: eager ``nn.Module`` on the CPU or a CUDA GPU, fp32 or fp16."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import BackendError, InferenceBackend


class TorchBackend(InferenceBackend):
    """Runs an ``nn.Module`` whose forward takes the inputs positionally, in ``input_names`` order."""

    name = "torch"

    def __init__(self, module: Any, input_names: Sequence[str], output_names: Sequence[str], *,
                 device: str = "cpu", precision: str = "fp32", threads: int = 0) -> None:
        try:
            import torch
        except ImportError as exc:
            raise BackendError("PyTorch is not installed: pip install torch==2.13.0 (CPU build)") from exc
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"torch: device '{device}' requested but CUDA is not available here")
        if precision not in ("fp32", "fp16"):
            raise BackendError(f"torch: precision must be fp32 or fp16, got '{precision}'")
        if precision == "fp16" and not device.startswith("cuda"):
            raise BackendError("torch: fp16 needs a CUDA device")
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._dtype = torch.float16 if precision == "fp16" else torch.float32
        self._module = module.eval().to(device=device, dtype=self._dtype)
        self._device, self._precision, self._threads = device, precision, threads
        self._inputs, self._outputs = list(input_names), list(output_names)

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        self._check_inputs(inputs)
        torch = self._torch
        with torch.inference_mode():
            args = [torch.from_numpy(np.ascontiguousarray(inputs[n])).to(self._device, self._dtype)
                    for n in self._inputs]
            out = self._module(*args)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            return [o.float().cpu().numpy() for o in outs]

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "device": self._device, "precision": self._precision,
                "threads": self._threads or self._torch.get_num_threads()}

    def close(self) -> None:
        if self._device.startswith("cuda"):
            self._module = None
            self._torch.cuda.empty_cache()
