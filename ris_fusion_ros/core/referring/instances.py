"""Where the instances come from: ground-truth boxes (for developing and scoring the referring
step alone) or a detector run on the fused / visible / infrared frame."""

from __future__ import annotations

import numpy as np

from ..detection.types import Detection


def detections_from_boxes(boxes: np.ndarray, class_names: list[str]) -> list[Detection]:
    """Ground-truth ``(N, 5)`` ``class_id, x1, y1, x2, y2`` rows as Detections (score 1, no mask)."""
    out = []
    for row in np.asarray(boxes, dtype=np.float64).reshape(-1, 5):
        class_id = int(row[0])
        name = class_names[class_id] if 0 <= class_id < len(class_names) else str(class_id)
        out.append(Detection(box=(float(row[1]), float(row[2]), float(row[3]), float(row[4])), score=1.0,
                             class_id=class_id, class_name=name))
    return out
