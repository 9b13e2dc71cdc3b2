"""Colour conversions shared by fusion and evaluation.

Fusion works on luminance and keeps the visible image's chroma, as the seed papers do:
full-range BT.601 YCbCr (the JPEG convention), whose Y is the same 0.299/0.587/0.114 gray
that fusion evaluators use.
"""

from __future__ import annotations

import cv2
import numpy as np

#: BT.601 luma weights (R, G, B), shared by every gray conversion in the project.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Unrounded BT.601 luma of an HxWx3 RGB array, float64 on the input's scale."""
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    return rgb[..., :3].astype(np.float64) @ LUMA_WEIGHTS


def to_gray(image: np.ndarray) -> np.ndarray:
    """Gray float64 image on a 0-255 scale, as fusion evaluators compute it.

    HxW passes through; HxWx3 (RGB) and HxWx4 (RGBA, alpha dropped) become rounded BT.601
    luma. Anything else raises ValueError.
    """
    if image.ndim == 2:
        return image.astype(np.float64)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.round(luminance(image))
    raise ValueError(f"to_gray expects an HxW, HxWx3 (RGB) or HxWx4 (RGBA) image, got shape {image.shape}")


def split_luma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Y as uint8 HxW, the full uint8 YCrCb image) of a uint8 RGB image.

    OpenCV's 8-bit YCrCb is full-range BT.601 with chroma centred on 128; integer SIMD code
    makes it ~20x faster than the same maths in NumPy floats, and the rounding it implies is
    at most half a gray level.
    """
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2YCrCb)
    return ycrcb[..., 0].copy(), ycrcb


def merge_luma(ycrcb: np.ndarray, luma: np.ndarray) -> np.ndarray:
    """RGB uint8 image from a fused luminance plane (float in [0, 1]) and the visible chroma.

    ``ycrcb`` (from :func:`split_luma`) is updated in place with the luminance rounded half
    up: round-half-to-even would send every .5 (e.g. the mean of two integers of different
    parity) to an even level and leave a comb-shaped histogram that lowers entropy.
    """
    ycrcb[..., 0] = np.clip(np.floor(luma * 255.0 + 0.5), 0, 255).astype(np.uint8)
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)
