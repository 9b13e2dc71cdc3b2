"""Masks of the referred objects: instance masks where the detector gives them, else box prompts.

A box prompt is segmented from the thermal image inside the box (Otsu's threshold, N. Otsu,
IEEE T-SMC 1979): people, engines and tyres are warmer than their surroundings at night and in
daylight alike. When there is no thermal image, or the split is implausible (foreground under
15 % or over 95 % of the box), the filled box is used and the explanation says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..detection.types import Detection

MIN_FILL, MAX_FILL = 0.15, 0.95


def _box_slice(det: Detection, width: int, height: int) -> tuple[slice, slice] | None:
    x1, y1, x2, y2 = det.box
    c1, r1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    c2, r2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
    if c2 <= c1 or r2 <= r1:
        return None
    return slice(r1, r2), slice(c1, c2)


def box_prompt_mask(det: Detection, size: tuple[int, int], thermal: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Bool HxW mask for one box, and how it was made ("thermal Otsu" or "filled box (...)")."""
    width, height = size
    mask = np.zeros((height, width), bool)
    region = _box_slice(det, width, height)
    if region is None:
        return mask, "empty box"
    if thermal is None:
        mask[region] = True
        return mask, "filled box (no thermal image)"
    roi = np.ascontiguousarray(thermal[region])
    if roi.size < 16 or int(roi.max()) - int(roi.min()) < 8:
        mask[region] = True
        return mask, "filled box (no thermal contrast in the box)"
    _, fg = cv2.threshold(roi, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    fill = float(np.count_nonzero(fg)) / fg.size
    if not MIN_FILL <= fill <= MAX_FILL:
        mask[region] = True
        return mask, f"filled box (thermal split covered {fill:.0%} of the box)"
    mask[region] = fg > 0
    return mask, "thermal Otsu inside the box"


def union_mask(detections: Sequence[Detection], indices: Sequence[int], size: tuple[int, int],
               thermal: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
    """uint8 HxW (0/255) union of the selected objects' masks, and one note per object."""
    width, height = size
    union = np.zeros((height, width), bool)
    notes = []
    for index in indices:
        det = detections[index]
        if det.mask is not None:
            instance = np.asarray(det.mask, bool)
            if instance.shape != (height, width):
                raise ValueError(f"detection {index} has a {instance.shape} mask; the frame is {height}x{width}")
            union |= instance
            notes.append("instance mask")
        else:
            box_mask, note = box_prompt_mask(det, size, thermal)
            union |= box_mask
            notes.append(note)
    return union.astype(np.uint8) * 255, notes
