"""Region masks for edits: feathered inward, and TeRF's eq. 5 merge done sequentially.

TeRF composes each edited image into the fusion with its mask, ``I_S = M ⊙ I_S^i + (1 − M) ⊙ I_f``
(eq. 5; as written it sums (1 − M)⊙I_f once per edit, which is only right for one edit, so the
edits are composited one after another here). A hard mask leaves a visible seam, so the mask is
feathered — but *inward*: the weight is exactly 0 on and outside the mask border and ramps up to
1 a few pixels inside, so pixels outside the referred object never change.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import DataError

#: Feather width as a fraction of the frame's shorter side (4.8 px at 480 lines).
FEATHER_FRACTION = 0.01


def as_bool_mask(mask: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    """A caller's mask (bool or uint8 0/255, HxW) as bool; DataError naming ``what`` otherwise."""
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise DataError(f"mask for '{what}' is {mask.shape[::-1]} (WxH) but the frame is {shape[::-1]}")
    return mask > 0 if mask.dtype != bool else mask


def bounding_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices around the True pixels, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def feathered_weight(mask: np.ndarray, feather_px: float | None = None) -> np.ndarray:
    """float32 weight in [0, 1]: 0 outside ``mask`` (bool, HxW), rising to 1 about ``feather_px``
    inside its border. Computed as 2·blur(mask) − 1, clipped: a blurred straight edge is 0.5 at
    the border, so the result is 0 there and outside it."""
    if feather_px is None:
        feather_px = FEATHER_FRACTION * min(mask.shape)
    if mask.all():
        return np.ones(mask.shape, np.float32)
    weight = mask.astype(np.float32)
    if feather_px > 0.5:
        # The blur is done with a border of zeros so a mask touching the frame edge is feathered
        # only where it meets unmasked pixels, not at the frame border.
        sigma = feather_px / 2.0
        weight = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        weight = np.clip(2.0 * weight - 1.0, 0.0, 1.0, out=weight)
        np.multiply(weight, mask, out=weight)  # outside concave corners the blur can exceed 0.5
    return weight


def composite(base: np.ndarray, edited: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """TeRF eq. 5 for one edit: ``weight·edited + (1 − weight)·base`` (float arrays, same shape)."""
    return base + weight * (edited - base)
