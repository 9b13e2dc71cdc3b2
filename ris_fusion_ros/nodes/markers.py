"""``visualization_msgs/MarkerArray`` for RViz: detection boxes and the referred object with text labels.

What the markers are (pinhole placement on a plane ``depth`` metres in front of the camera, colours,
labels) is decided in :mod:`ris_fusion_ros.core.pipeline.markers`, shared with the offline replay;
this module only turns that plain data into rclpy messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from ..core.detection.types import Detection
from ..core.pipeline.markers import MarkerData, detection_marker_data, referred_marker_data
from ..core.referring.types import ReferredSelection


def to_marker(data: MarkerData, header: Any) -> Marker:
    marker = Marker(header=header, ns=data.ns, id=data.id, type=data.type, action=data.action,
                    lifetime=Duration(sec=data.lifetime[0], nanosec=data.lifetime[1]),
                    color=ColorRGBA(r=data.color[0], g=data.color[1], b=data.color[2], a=data.color[3]),
                    scale=Vector3(x=data.scale[0], y=data.scale[1], z=data.scale[2]), text=data.text)
    marker.pose.position = Point(x=data.position[0], y=data.position[1], z=data.position[2])
    marker.pose.orientation.w = 1.0
    marker.points = [Point(x=x, y=y, z=z) for x, y, z in data.points]
    return marker


def to_marker_array(markers: Iterable[MarkerData], header: Any) -> MarkerArray:
    return MarkerArray(markers=[to_marker(m, header) for m in markers])


def detection_markers(detections: Sequence[Detection], header: Any, size: tuple[int, int], *,
                      camera_info: Any = None, depth: float = 5.0, selected: Sequence[int] = (),
                      text: str = "", namespace: str = "detections", lifetime_s: float = 1.0) -> MarkerArray:
    """A DELETEALL marker, then per detection a closed LINE_STRIP box and a TEXT_VIEW_FACING label
    (:func:`~ris_fusion_ros.core.pipeline.markers.detection_marker_data`)."""
    return to_marker_array(detection_marker_data(
        detections, size, camera_info=camera_info, depth=depth, selected=selected, text=text, namespace=namespace,
        lifetime_s=lifetime_s), header)


def referred_markers(selection: ReferredSelection, header: Any, size: tuple[int, int], *, camera_info: Any = None,
                     depth: float = 5.0, text: str = "", lifetime_s: float = 1.0) -> MarkerArray:
    """The referring node's markers: the selected instances only, namespace ``referred``
    (:func:`~ris_fusion_ros.core.pipeline.markers.referred_marker_data`)."""
    return to_marker_array(referred_marker_data(
        selection, size, camera_info=camera_info, depth=depth, text=text, lifetime_s=lifetime_s), header)
