"""Letterbox: resize an image into a detector's input keeping its aspect ratio, pad the rest.

Two conventions are needed: YOLOv5/Ultralytics pad evenly on both sides with gray 114 (and
``auto`` pads only up to the next multiple of the stride, upstream's "rect" inference), YOLOX
pastes the resized image at the top-left. :class:`Letterbox` remembers the ratio and padding
so boxes and masks map back to the original image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import DataError

FILL = 114


@dataclass(frozen=True)
class LetterboxSpec:
    """How to letterbox: target (height, width), centred or top-left, stride-only padding, up-scaling."""

    size: tuple[int, int] = (640, 640)
    center: bool = True
    auto: bool = False  # pad only to a multiple of ``stride`` (needs a model with dynamic input size)
    stride: int = 32
    scaleup: bool = True
    fill: int = FILL


@dataclass(frozen=True)
class Letterbox:
    """Where the original image sits in the model input: ``x_in = x * ratio + pad_x``."""

    ratio: float
    pad: tuple[float, float]  # (x, y) padding before the image, in input pixels (may be .5 when centred)
    offset: tuple[int, int]  # (left, top) integer pixel offset of the pasted image
    resized: tuple[int, int]  # (width, height) of the pasted image
    input_hw: tuple[int, int]
    original_hw: tuple[int, int]

    def boxes_to_original(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) x1 y1 x2 y2 in input pixels -> original pixels, clipped to the image."""
        out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad[0]) / self.ratio
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad[1]) / self.ratio
        h, w = self.original_hw
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB from uint8 HxWx3 or HxW gray (replicated); anything else is a DataError."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise DataError(f"detector input must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 2 or image.shape[1] < 2:
        raise DataError(f"detector input must be HxWx3 RGB or HxW gray, got shape {image.shape}")
    return image


def letterbox(image: np.ndarray, spec: LetterboxSpec) -> tuple[np.ndarray, Letterbox]:
    """Resize (bilinear, only when the size changes) and pad ``image`` (HxWxC uint8) per ``spec``."""
    h, w = image.shape[:2]
    th, tw = spec.size
    ratio = min(th / h, tw / w)
    if not spec.scaleup:
        ratio = min(ratio, 1.0)
    if spec.center:
        new_w, new_h = round(w * ratio), round(h * ratio)
    else:  # YOLOX truncates
        new_w, new_h = int(w * ratio), int(h * ratio)
    dw, dh = tw - new_w, th - new_h
    if spec.auto:
        dw, dh = dw % spec.stride, dh % spec.stride
    resized = image if (new_w, new_h) == (w, h) else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if spec.center:
        half_w, half_h = dw / 2, dh / 2
        left, right = round(half_w - 0.1), round(half_w + 0.1)
        top, bottom = round(half_h - 0.1), round(half_h + 0.1)
        pad = (half_w, half_h)
    else:
        left, top, right, bottom = 0, 0, dw, dh
        pad = (0.0, 0.0)
    out = np.full((new_h + top + bottom, new_w + left + right, *image.shape[2:]), spec.fill, dtype=image.dtype)
    out[top:top + new_h, left:left + new_w] = resized
    return out, Letterbox(ratio, pad, (left, top), (new_w, new_h), out.shape[:2], (h, w))


def to_tensor(image: np.ndarray, bgr: bool = False, scale: float = 1.0 / 255.0) -> np.ndarray:
    """HxWx3 uint8 (RGB) -> float32 [1, 3, H, W], optionally BGR, multiplied by ``scale``."""
    chw = image[:, :, ::-1] if bgr else image
    return np.ascontiguousarray(chw.transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(scale)
