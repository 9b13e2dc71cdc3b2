"""Instance masks from prototypes and per-box coefficients (YOLACT-style, Bolya et al. 2019).

mask = sigmoid(coeffs · prototypes), zeroed outside the box on the prototype grid, upsampled
bilinearly (half-pixel centres, as PyTorch ``align_corners=False``) to the model input,
then the letterbox padding is cut away, the rest resized to the original image and
thresholded at 0.5.
"""

from __future__ import annotations

import cv2
import numpy as np

from .letterbox import Letterbox


def prototype_masks(protos: np.ndarray, coeffs: np.ndarray, boxes: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """(K, ph, pw) float masks in [0, 1], cropped to the boxes (given in input pixels)."""
    nm, ph, pw = protos.shape
    k = len(coeffs)
    if k == 0:
        return np.zeros((0, ph, pw), np.float32)
    logits = (np.asarray(coeffs, np.float32) @ protos.reshape(nm, -1).astype(np.float32)).reshape(k, ph, pw)
    masks = 1.0 / (1.0 + np.exp(-logits))
    sx, sy = pw / input_hw[1], ph / input_hw[0]
    cols = np.arange(pw, dtype=np.float32)[None, None, :]
    rows = np.arange(ph, dtype=np.float32)[None, :, None]
    b = np.asarray(boxes, np.float32)
    x1, y1 = (b[:, 0] * sx)[:, None, None], (b[:, 1] * sy)[:, None, None]
    x2, y2 = (b[:, 2] * sx)[:, None, None], (b[:, 3] * sy)[:, None, None]
    inside = (cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2)
    return np.where(inside, masks, 0.0).astype(np.float32)


def upsample(mask: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of one float mask to (height, width)."""
    if mask.shape == tuple(size_hw):
        return mask
    return cv2.resize(mask, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR)


def input_frame_masks(protos: np.ndarray, coeffs: np.ndarray, boxes: np.ndarray,
                      input_hw: tuple[int, int]) -> np.ndarray:
    """(K, H_in, W_in) bool masks in the letterboxed model input (what upstream's pixel counts use)."""
    small = prototype_masks(protos, coeffs, boxes, input_hw)
    return np.stack([upsample(m, input_hw) > 0.5 for m in small]) if len(small) else np.zeros((0, *input_hw), bool)


def original_masks(protos: np.ndarray, coeffs: np.ndarray, boxes: np.ndarray, box: Letterbox) -> list[np.ndarray]:
    """Bool masks of the original image, one per box (boxes in input pixels)."""
    small = prototype_masks(protos, coeffs, boxes, box.input_hw)
    left, top = box.offset
    w, h = box.resized
    oh, ow = box.original_hw
    out = []
    for m in small:
        full = upsample(m, box.input_hw)[top:top + h, left:left + w]
        out.append(upsample(np.ascontiguousarray(full), (oh, ow)) > 0.5)
    return out
