"""The one interface every fusion method implements, classic or neural."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..color import merge_luma, split_luma
from ..errors import ConfigError, DataError


def check_pair(ir: np.ndarray, vis: np.ndarray) -> None:
    """Raise DataError naming the problem when a pair cannot be fused as given."""
    if ir.ndim != 2:
        raise DataError(f"infrared must be a single-channel HxW image, got shape {ir.shape}")
    if vis.ndim != 3 or vis.shape[2] != 3:
        raise DataError(f"visible must be an HxWx3 RGB image, got shape {vis.shape}")
    if ir.shape != vis.shape[:2]:
        raise DataError(f"infrared is {ir.shape[1]}x{ir.shape[0]} but visible is "
                        f"{vis.shape[1]}x{vis.shape[0]}; register or resize before fusion")
    for name, image in (("infrared", ir), ("visible", vis)):
        if image.dtype != np.uint8:
            raise DataError(f"{name} must be uint8, got {image.dtype}; normalise it first")


def require_conditioning(method: object, *inputs: str, purpose: str = "") -> None:
    """ConfigError naming the method when it does not take every one of ``inputs`` (e.g. ``control``):
    checked before a long run or at node start-up, not first at the first frame."""
    missing = sorted(set(inputs) - set(getattr(method, "conditioning", ())))
    if missing:
        name = getattr(method, "name", method)
        raise ConfigError(f"fusion method '{name}' does not take {', '.join(missing)}"
                          + (f": {purpose}" if purpose else ""))


class FusionMethod(ABC):
    """Fuses an infrared image with the luminance of a visible image; chroma is kept.

    Subclasses implement :meth:`fuse_luminance` on float32 planes in [0, 1];
    :meth:`fuse` does the colour handling so every method is post-processed identically.
    """

    name: str = "method"
    description: str = ""
    #: Names of the optional conditioning inputs ``fuse`` accepts (e.g. ``control``, ``text``).
    conditioning: tuple[str, ...] = ()

    @abstractmethod
    def fuse_luminance(self, ir: np.ndarray, vis_y: np.ndarray, **conditioning: object) -> np.ndarray:
        """Fused luminance (float32 HxW in [0, 1]) from infrared and visible Y in [0, 1]."""

    def fuse(self, ir: np.ndarray, vis: np.ndarray, **conditioning: object) -> np.ndarray:
        """Fuse uint8 infrared HxW and uint8 RGB HxWx3 into a uint8 RGB image.

        Keyword arguments are conditioning inputs (see :attr:`conditioning`); a method that
        does not take one raises ConfigError instead of ignoring it.
        """
        require_conditioning(self, *(k for k, v in conditioning.items() if v is not None))
        check_pair(ir, vis)
        y, ycrcb = split_luma(vis)
        scale = np.float32(1.0 / 255.0)
        fused_y = self.fuse_luminance(ir.astype(np.float32) * scale, y.astype(np.float32) * scale, **conditioning)
        if fused_y.shape != ir.shape:
            raise RuntimeError(f"{self.name} returned shape {fused_y.shape} for input {ir.shape}")
        return merge_luma(ycrcb, fused_y)

    def info(self) -> dict[str, object]:
        """What a report shows about the method (backend, parameters, ...)."""
        return {"name": self.name, "description": self.description}
