"""Classic pixel-rule baselines: they make the harness run end to end without a network
and are the floor every learned method must clear (see docs: max-fusion is strong on
MI/VIF/Qabf)."""

from __future__ import annotations

import numpy as np

from .base import FusionMethod


class AverageFusion(FusionMethod):
    """Per-pixel mean of infrared and visible luminance."""

    name = "average"
    description = "per-pixel mean of IR and visible Y, visible chroma"

    def fuse_luminance(self, ir: np.ndarray, vis_y: np.ndarray, **conditioning: object) -> np.ndarray:
        return 0.5 * (ir + vis_y)


class MaxFusion(FusionMethod):
    """Per-pixel maximum of infrared and visible luminance (keeps hot targets and lit areas)."""

    name = "max"
    description = "per-pixel max of IR and visible Y, visible chroma"

    def fuse_luminance(self, ir: np.ndarray, vis_y: np.ndarray, **conditioning: object) -> np.ndarray:
        return np.maximum(ir, vis_y)
