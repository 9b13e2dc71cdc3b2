"""RViz markers as plain data: detection boxes and the referred object with text labels (no ROS needed).

The live nodes (``nodes/markers.py``: rclpy messages) and the offline replay (``bag.marker_array``:
rosbags messages) both convert what :func:`detection_marker_data` returns, so the two carry the same
markers field for field.

RViz draws markers in 3D, so each image box is placed on a plane ``depth`` metres in front of the
camera (optical frame: x right, y down, z forward) through the pinhole model: with the image's
``camera_info`` its K is used; without one, a 90-degree horizontal field of view (fx = fy = W/2)
centred on the image. The boxes then line up with the image when RViz's Camera display looks
through the same frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..detection.types import Detection
from ..referring.types import ReferredSelection
from .overlay import REFERRED_COLOR, class_color

# visualization_msgs/Marker constants (same values as the message definition)
ARROW = 0
LINE_STRIP = 4
TEXT_VIEW_FACING = 9
ADD = 0
DELETEALL = 3

Point3 = tuple[float, float, float]


@dataclass(frozen=True)
class MarkerData:
    """One ``visualization_msgs/Marker`` without its header; the pose orientation is always identity.

    ``type``/``action`` hold the Marker constants above: a DELETEALL marker has ``type`` ARROW (the
    message default) and ``action`` DELETEALL; boxes are LINE_STRIP, labels TEXT_VIEW_FACING, both ADD.
    ``color`` is (r, g, b, a) in [0, 1]; ``lifetime`` is (sec, nanosec).
    """

    ns: str
    id: int
    type: int
    action: int = ADD
    points: tuple[Point3, ...] = ()
    position: Point3 = (0.0, 0.0, 0.0)
    color: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    scale: Point3 = (0.0, 0.0, 0.0)
    text: str = ""
    lifetime: tuple[int, int] = (0, 0)


def intrinsics(width: int, height: int, camera_info: Any = None) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) from a CameraInfo (anything with a 9-element ``k``) with a non-zero K, else the
    documented 90-degree default."""
    if camera_info is not None and len(camera_info.k) == 9 and camera_info.k[0] > 0 and camera_info.k[4] > 0:
        k = camera_info.k
        return float(k[0]), float(k[4]), float(k[2]), float(k[5])
    return width / 2.0, width / 2.0, width / 2.0, height / 2.0


def pixel_to_point(u: float, v: float, depth: float, k: tuple[float, float, float, float]) -> Point3:
    """The pixel (u, v) on the plane ``depth`` metres in front of the camera (optical frame)."""
    fx, fy, cx, cy = k
    return (u - cx) / fx * depth, (v - cy) / fy * depth, float(depth)


def _rgba(rgb: tuple[int, int, int], alpha: float = 1.0) -> tuple[float, float, float, float]:
    return rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0, float(alpha)


def label_text(det: Detection, referred: bool, text: str) -> str:
    """``"<class> <score>"``, and for a referred detection with a text ``' <- "<text, 40 chars>"'``."""
    return f"{det.class_name} {det.score:.2f}" + (f' <- "{text[:40]}"' if referred and text else "")


def detection_marker_data(detections: Sequence[Detection], size: tuple[int, int], *, camera_info: Any = None,
                          depth: float = 5.0, selected: Sequence[int] = (), text: str = "",
                          namespace: str = "detections", lifetime_s: float = 1.0) -> list[MarkerData]:
    """A DELETEALL marker, then per detection a closed LINE_STRIP box (id 2i) and a TEXT_VIEW_FACING
    label (id 2i+1) above its top-left corner.

    Detections in ``selected`` use the referred colour, a doubled line width and carry ``text`` in
    their label.
    """
    width, height = size
    k = intrinsics(width, height, camera_info)
    lifetime = (int(lifetime_s), int((lifetime_s % 1.0) * 1e9))
    out = [MarkerData(ns=namespace, id=0, type=ARROW, action=DELETEALL)]
    chosen = set(selected)
    line_width = 0.01 * depth
    for index, det in enumerate(detections):
        referred = index in chosen
        color = _rgba(REFERRED_COLOR if referred else class_color(det.class_id))
        x1, y1, x2, y2 = (float(v) for v in det.box)
        corners = ((x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1))
        out.append(MarkerData(ns=namespace, id=2 * index, type=LINE_STRIP, color=color, lifetime=lifetime,
                              points=tuple(pixel_to_point(u, v, depth, k) for u, v in corners),
                              scale=(line_width * (2.0 if referred else 1.0), 0.0, 0.0)))
        out.append(MarkerData(ns=namespace, id=2 * index + 1, type=TEXT_VIEW_FACING, color=color, lifetime=lifetime,
                              position=pixel_to_point(x1, max(0.0, y1 - 8.0), depth, k),
                              scale=(0.0, 0.0, 0.05 * depth), text=label_text(det, referred, text)))
    return out


def referred_marker_data(selection: ReferredSelection, size: tuple[int, int], *, camera_info: Any = None,
                         depth: float = 5.0, text: str = "", lifetime_s: float = 1.0) -> list[MarkerData]:
    """The referring node's markers: only the selected instances (in selection order), all referred,
    namespace ``referred``, labels carrying ``text``. The selection's own instances, which are not the published
    detections: a second look, the thermal stream or a search add to those."""
    chosen = [selection.detections[i] for i in selection.selected]
    return detection_marker_data(chosen, size, camera_info=camera_info, depth=depth, selected=range(len(chosen)),
                                 text=text, namespace="referred", lifetime_s=lifetime_s)
