"""Fusion by a neural network run through any inference backend.

The network sees float32 NCHW planes in [0, 1]; how a model wants its inputs arranged and
its output mapped back to a luminance plane is given by two small functions, so peers with
different conventions and our own network share one class and one post-processing path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import FusionMethod

InputBuilder = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
OutputMapper = Callable[[list[np.ndarray]], np.ndarray]


def ir_vis_inputs(ir: np.ndarray, vis_y: np.ndarray) -> dict[str, np.ndarray]:
    """Default inputs: ``ir`` and ``vis`` as 1x1xHxW float32 in [0, 1]."""
    return {"ir": ir[None, None].astype(np.float32), "vis": vis_y[None, None].astype(np.float32)}


def first_output(outputs: list[np.ndarray]) -> np.ndarray:
    """Default output mapping: the first output's single plane."""
    return outputs[0][0, 0]


class NetworkFusion(FusionMethod):
    """A FusionMethod backed by an :class:`~ris_fusion_ros.backends.InferenceBackend`.

    ``backend_factory`` is called once, on first use, so listing or configuring methods
    never loads a model.
    """

    def __init__(self, name: str, description: str, backend_factory: Callable[[], Any], *,
                 make_inputs: InputBuilder = ir_vis_inputs, map_output: OutputMapper = first_output,
                 extra_info: dict[str, object] | None = None) -> None:
        self.name = name
        self.description = description
        self._backend_factory = backend_factory
        self._backend: Any = None
        self._make_inputs = make_inputs
        self._map_output = map_output
        self._extra_info = dict(extra_info or {})

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = self._backend_factory()
        return self._backend

    def fuse_luminance(self, ir: np.ndarray, vis_y: np.ndarray, **conditioning: object) -> np.ndarray:
        outputs = self.backend.run(self._make_inputs(ir, vis_y))
        return np.asarray(self._map_output(outputs), dtype=np.float32)

    def info(self) -> dict[str, object]:
        info: dict[str, object] = {**super().info(), **self._extra_info}
        if self._backend is not None:
            info.update(self._backend.info())
        return info

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
