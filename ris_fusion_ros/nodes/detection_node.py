"""``detection_node``: objects on the fused frame (a thin lifecycle node over the detection stage).

Topics (relative, remappable):

* in  ``fused/image`` (rgb8/bgr8/rgba8/bgra8/mono8; sensor-data QoS + ``qos_overrides``),
  ``fused/camera_info`` (optional, for marker placement);
* out ``detections`` (``vision_msgs/Detection2DArray``, when vision_msgs is importable),
  ``detections/overlay`` (rgb8 boxes and labels), ``detections/markers`` (``MarkerArray``),
  ``/diagnostics``. Every output carries the fused image's header (source stamp, RGB frame_id).

Lifecycle: configure = load the detector (a failure fails the transition with the reason);
activate = subscribe and start the newest-frame worker; deactivate = unsubscribe (model stays
loaded); cleanup = free the model.
"""

from __future__ import annotations

import sys
from typing import Any

from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from ..core.io.image_codec import array_to_image_fields
from ..core.pipeline.overlay import draw_detections
from . import vision
from .frame_node import FrameStageNode
from .markers import detection_markers
from .runner import run_single_node

NODE_NAME = "detection_node"
DETECTIONS_TOPIC = "detections"
OVERLAY_TOPIC = "detections/overlay"
MARKERS_TOPIC = "detections/markers"


class DetectionNode(FrameStageNode):
    """Fused image -> detections; see the module docstring."""

    STAGE_NAME = "detection"

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._det_pub = self._overlay_pub = self._marker_pub = None
        self.detection_count = 0

    def _load(self, values: dict[str, Any]) -> None:
        self.detection = self.load_detection(values)
        self._backend_info = self.detection.info()

    def _unload(self) -> None:
        self.release_detection()

    def _make_publishers(self) -> None:
        if vision.AVAILABLE:
            self._det_pub = self.lifecycle_pub(vision.Detection2DArray, DETECTIONS_TOPIC)
        else:
            self.get_logger().error(f"'{DETECTIONS_TOPIC}' is not published: {vision.UNAVAILABLE_REASON}")
        self._overlay_pub = self.lifecycle_pub(Image, OVERLAY_TOPIC)
        self._marker_pub = self.lifecycle_pub(MarkerArray, MARKERS_TOPIC)

    def _process(self, msg: Image, rgb: Any, stamp_ns: int) -> None:
        detection = self.detection
        if detection is None:
            return
        detections = detection.detect(rgb, key=(stamp_ns, msg.header.frame_id))
        self.detection_count += len(detections)
        if self._det_pub is not None:
            self._det_pub.publish(vision.to_detection2d_array(detections, msg.header))
        if self.param("publish_overlay") and self._overlay_pub is not None:
            overlay = draw_detections(rgb, detections)
            self._overlay_pub.publish(Image(header=msg.header, **array_to_image_fields(overlay, "rgb8")))
        if self.param("publish_markers") and self._marker_pub is not None:
            self._marker_pub.publish(detection_markers(
                detections, msg.header, (rgb.shape[1], rgb.shape[0]), camera_info=self.camera_info,
                depth=self.param("marker_depth_meters")))

    def _extra_diagnostics(self) -> list[tuple[str, Any]]:
        return [("detections_total", self.detection_count), ("vision_msgs", vision.AVAILABLE)]


def main(argv: list[str] | None = None) -> int:
    """``python -m ris_fusion_ros.nodes.detection_node [--ros-args ...]``."""
    return run_single_node(DetectionNode, argv)


if __name__ == "__main__":
    sys.exit(main())
