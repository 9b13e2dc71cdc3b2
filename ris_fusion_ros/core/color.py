"""Colour conversions shared by fusion and evaluation.

Fusion works on luminance and keeps the visible image's chroma, as the seed papers do:
full-range BT.601 YCbCr (the JPEG convention), whose Y is the same 0.299/0.587/0.114 gray
that fusion evaluators use.
"""

from __future__ import annotations

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114])


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Unrounded BT.601 luma of an HxWx3 RGB array, float64 on the input's scale."""
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    return rgb[..., :3].astype(np.float64) @ _LUMA


def to_gray(image: np.ndarray) -> np.ndarray:
    """Gray float64 image on a 0-255 scale, as fusion evaluators compute it.

    HxW passes through; HxWx3 (RGB) and HxWx4 (RGBA, alpha dropped) become rounded BT.601
    luma. Anything else raises ValueError.
    """
    if image.ndim == 2:
        return image.astype(np.float64)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.round(luminance(image))
    raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")


def rgb_to_ycbcr(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split uint8-scale RGB into float32 Y, Cb, Cr planes (0-255, chroma centred on 128)."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return y, cb, cr


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Recombine 0-255 Y, Cb, Cr planes into a rounded, clipped uint8 RGB image."""
    cbs, crs = cb - 128.0, cr - 128.0
    rgb = np.stack((y + 1.402 * crs, y - 0.344136 * cbs - 0.714136 * crs, y + 1.772 * cbs), axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
