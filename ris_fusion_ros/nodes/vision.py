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
