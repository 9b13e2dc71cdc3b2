"""Operator overlays drawn on the fused frame: detection boxes with labels, the referred mask and text.

Pure functions on RGB uint8 arrays (never in place), used by the nodes' ``*/overlay`` topics and by replay.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..detection.types import Detection
from ..referring.types import ReferredSelection

REFERRED_COLOR = (255, 64, 255)  # magenta: never a class colour below
_PALETTE = ((0, 200, 255), (255, 200, 0), (0, 255, 120), (255, 120, 0), (120, 160, 255), (200, 255, 0),
            (255, 0, 80), (0, 255, 255))


def class_color(class_id: int) -> tuple[int, int, int]:
    """A stable RGB colour per class id."""
    return _PALETTE[int(class_id) % len(_PALETTE)]


def draw_label(image: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int]) -> None:
    """``text`` on a filled ``color`` box whose bottom-left corner is (x, y), in place."""
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    y = max(y, h + base + 1)
    cv2.rectangle(image, (x, y - h - base - 1), (x + w + 2, y), color, -1)
    cv2.putText(image, text, (x + 1, y - base), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def draw_detections(rgb: np.ndarray, detections: Sequence[Detection],
                    highlight: Sequence[int] = ()) -> np.ndarray:
    """Boxes with ``class score`` labels; indices in ``highlight`` are drawn thicker in the referred colour."""
    out = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    chosen = set(highlight)
    for index, det in enumerate(detections):
        color = REFERRED_COLOR if index in chosen else class_color(det.class_id)
        x1, y1, x2, y2 = (round(float(v)) for v in det.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 3 if index in chosen else 2)
        draw_label(out, f"{det.class_name} {det.score:.2f}", x1, y1, color)
    return out


def draw_mask(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.45,
              color: tuple[int, int, int] = REFERRED_COLOR) -> np.ndarray:
    """Blend ``color`` into the pixels where ``mask`` is non-zero."""
    out = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    inside = np.asarray(mask) > 0
    if inside.any():
        tint = np.asarray(color, np.float32)
        out[inside] = np.clip(out[inside].astype(np.float32) * (1.0 - alpha) + tint * alpha + 0.5, 0, 255)
    return out


def draw_referring(rgb: np.ndarray, selection: ReferredSelection, alpha: float = 0.45) -> np.ndarray:
    """Mask, the selected boxes, and a banner with the text and the outcome."""
    out = draw_mask(rgb, selection.mask, alpha)
    out = draw_detections(out, [selection.detections[i] for i in selection.selected],
                          highlight=range(len(selection.selected)))
    if selection.text:
        outcome = "no match" if selection.no_match else f"score {selection.score:.2f}"
        banner = f'"{selection.text[:60]}" - {outcome}'
    else:
        banner = "no target (publish on /referring_text)"
    draw_label(out, banner, 2, 18, (255, 255, 255))
    return out
