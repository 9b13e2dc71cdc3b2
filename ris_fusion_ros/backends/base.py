"""The one small interface every inference runtime implements.

A backend runs a model given named float32 arrays and returns its outputs as numpy
arrays, in the model's output order. Fusion, detection and referring code depends only
on this interface, so ONNX Runtime (CPU default), TensorRT and PyTorch are interchangeable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.errors import RisFusionError


class BackendError(RisFusionError):
    """A backend cannot be created or run (missing runtime, bad model file, bad inputs)."""


class InferenceBackend(ABC):
    """Runs one model. Create it through :func:`ris_fusion_ros.backends.create_backend`."""

    name: str = "backend"
    _inputs: list[str]
    _outputs: list[str]

    @property
    def input_names(self) -> Sequence[str]:
        """Model input names, in order (subclasses set ``_inputs`` when they load the model)."""
        return self._inputs

    @property
    def output_names(self) -> Sequence[str]:
        """Model output names, in order (subclasses set ``_outputs``)."""
        return self._outputs

    @abstractmethod
    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run once; ``inputs`` maps every input name to an array; outputs in model order."""

    def info(self) -> dict[str, Any]:
        """What diagnostics and reports show: runtime, device, precision, threads, model."""
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027  (optional hook: most runtimes free themselves)
        """Release the runtime's resources (sessions, engines, GPU memory)."""

    def __enter__(self) -> InferenceBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        missing = [n for n in self.input_names if n not in inputs]
        extra = [n for n in inputs if n not in self.input_names]
        if missing or extra:
            raise BackendError(f"{self.name}: inputs {sorted(inputs)} do not match the model's "
                               f"{list(self.input_names)} (missing {missing}, unexpected {extra})")
