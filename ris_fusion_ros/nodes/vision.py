"""``vision_msgs/Detection2DArray`` from the core's detections, where a vision_msgs package is importable.

Upstream vision_msgs is not installable from PyPI; ``tools/build_msgs.sh`` builds a project-local 2D
subset with the same type hashes (``vision_msgs/`` in this repository). Without either, the nodes
still publish overlays and markers and say once, loudly, that ``detections`` is off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.detection.types import Detection

try:
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
except ImportError as _exc:  # the message package is optional at run time
    Detection2D = Detection2DArray = ObjectHypothesisWithPose = None
    UNAVAILABLE_REASON = f"vision_msgs is not importable ({_exc}); run tools/build_msgs.sh and source tools/ros_env.sh"
else:
    UNAVAILABLE_REASON = ""

AVAILABLE = Detection2DArray is not None


def to_detection2d_array(detections: Sequence[Detection], header: Any, ids: Sequence[str] = ()) -> Any:
    """One Detection2DArray; bbox centre/size in pixels, ``class_id`` = the class *name* (readable in every
    viewer; the COCO index is in ``/referring/result``), ``score`` = detector confidence."""
    if not AVAILABLE:
        raise RuntimeError(UNAVAILABLE_REASON)
    array = Detection2DArray(header=header)
    for index, det in enumerate(detections):
        item = Detection2D(header=header)
        cx, cy = det.center
        item.bbox.center.position.x, item.bbox.center.position.y = float(cx), float(cy)
        item.bbox.size_x, item.bbox.size_y = float(det.width), float(det.height)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = det.class_name
        hypothesis.hypothesis.score = float(det.score)
        item.results = [hypothesis]
        item.id = ids[index] if index < len(ids) else ""
        array.detections.append(item)
    return array


def from_detection2d_array(msg: Any, class_names: Sequence[str] = ()) -> list[Detection]:
    """The inverse of :func:`to_detection2d_array` (boxes, best hypothesis): what the fusion node resolves
    edit targets over. ``class_id`` is the index of the name in ``class_names`` (-1 when absent); a
    detection without a hypothesis is kept as class ``object``."""
    out = []
    for item in msg.detections:
        cx, cy = item.bbox.center.position.x, item.bbox.center.position.y
        half_w, half_h = item.bbox.size_x / 2.0, item.bbox.size_y / 2.0
        best = max(item.results, key=lambda r: r.hypothesis.score, default=None)
        name = best.hypothesis.class_id if best is not None else "object"
        score = float(best.hypothesis.score) if best is not None else 1.0
        class_id = list(class_names).index(name) if name in class_names else -1
        out.append(Detection((cx - half_w, cy - half_h, cx + half_w, cy + half_h), score, class_id, name))
    return out
