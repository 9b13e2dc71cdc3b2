"""What a detector returns: one plain record per object, shared by detection, referring and the nodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The confidence a robot runs a detector at: the nodes' ``min_score``, the referrer's instance floor and the
#: score at which evaluations count objects found. One value, so an operating point means the same everywhere.
OPERATING_SCORE = 0.25
#: The detector the nodes, the replay and the referring commands use unless told otherwise: YOLOX-Nano
#: fine-tuned on fused MSRS frames, shipped with the package (Apache-2.0).
DEFAULT_DETECTOR = "yolox-nano-msrs"


@dataclass(eq=False)
class Detection:
    """One detected object in the coordinates of the image the detector was given.

    ``box`` is (x1, y1, x2, y2) in pixels; ``mask`` is a bool HxW array of the full input
    image when the model segments instances (YOLOv5-seg, YOLOv8-seg), otherwise None.
    """

    box: tuple[float, float, float, float]
    score: float
    class_id: int
    class_name: str
    mask: np.ndarray | None = None

    @property
    def width(self) -> float:
        return max(0.0, self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return max(0.0, self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0


def detect_many(detector: Any, images: Sequence[np.ndarray], conf: float | None = None) -> list[list[Detection]]:
    """``detector`` on each of ``images``: batched when it offers ``detect_many`` (the project's detectors),
    one ``detect`` call per image otherwise (any object with the plain interface)."""
    many = getattr(detector, "detect_many", None)
    if callable(many):
        return many(images, conf)
    return [detector.detect(image) if conf is None else detector.detect(image, conf) for image in images]
