"""``visualization_msgs/MarkerArray`` for RViz: detection boxes and the referred object with text labels.

RViz draws markers in 3D, so each image box is placed on a plane ``depth`` metres in front of the
camera (optical frame: x right, y down, z forward) through the pinhole model: with the image's
``camera_info`` its K is used; without one, a 90-degree horizontal field of view (fx = fy = W/2)
centred on the image. The boxes then line up with the image when RViz's Camera display looks
through the same frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from ..core.detection.types import Detection
from ..core.pipeline.overlay import REFERRED_COLOR, class_color


def intrinsics(width: int, height: int, camera_info: Any = None) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) from a CameraInfo with a non-zero K, else the documented 90-degree default."""
    if camera_info is not None and len(camera_info.k) == 9 and camera_info.k[0] > 0 and camera_info.k[4] > 0:
        k = camera_info.k
        return float(k[0]), float(k[4]), float(k[2]), float(k[5])
    return width / 2.0, width / 2.0, width / 2.0, height / 2.0


def pixel_to_point(u: float, v: float, depth: float, k: tuple[float, float, float, float]) -> Point:
    fx, fy, cx, cy = k
    return Point(x=(u - cx) / fx * depth, y=(v - cy) / fy * depth, z=depth)


def _color(rgb: tuple[int, int, int], alpha: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=rgb[0] / 255.0, g=rgb[1] / 255.0, b=rgb[2] / 255.0, a=alpha)


def detection_markers(detections: Sequence[Detection], header: Any, size: tuple[int, int], *,
                      camera_info: Any = None, depth: float = 5.0, selected: Sequence[int] = (),
                      text: str = "", namespace: str = "detections", lifetime_s: float = 1.0) -> MarkerArray:
    """A DELETEALL marker, then per detection a closed LINE_STRIP box and a TEXT_VIEW_FACING label.

    Detections in ``selected`` use the referred colour and carry ``text`` in their label.
    """
    width, height = size
    k = intrinsics(width, height, camera_info)
    lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    out = MarkerArray()
    out.markers.append(Marker(header=header, ns=namespace, action=Marker.DELETEALL))
    chosen = set(selected)
    line_width = 0.01 * depth
    for index, det in enumerate(detections):
        referred = index in chosen
        rgb = REFERRED_COLOR if referred else class_color(det.class_id)
        x1, y1, x2, y2 = (float(v) for v in det.box)
        box = Marker(header=header, ns=namespace, id=2 * index, type=Marker.LINE_STRIP, action=Marker.ADD,
                     lifetime=lifetime, color=_color(rgb))
        box.pose.orientation.w = 1.0
        box.scale.x = line_width * (2.0 if referred else 1.0)
        box.points = [pixel_to_point(u, v, depth, k) for u, v in ((x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1))]
        label = Marker(header=header, ns=namespace, id=2 * index + 1, type=Marker.TEXT_VIEW_FACING,
                       action=Marker.ADD, lifetime=lifetime, color=_color(rgb))
        label.pose.position = pixel_to_point(x1, max(0.0, y1 - 8.0), depth, k)
        label.pose.orientation.w = 1.0
        label.scale.z = 0.05 * depth
        label.text = f"{det.class_name} {det.score:.2f}" + (f' <- "{text[:40]}"' if referred and text else "")
        out.markers += [box, label]
    return out
