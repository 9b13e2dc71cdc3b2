"""``referring_segmentation_node``: the object an operator's text names, as a mask on the fused frame.

Topics and services (relative names; in the root namespace ``referring_text`` is ``/referring_text``):

* in  ``fused/image`` (sensor-data QoS + ``qos_overrides``), ``fused/camera_info`` (optional),
  ``fused/thermal`` (mono8, the registered thermal with the fused frame's stamp; ``use_thermal``);
  ``rgb/image_raw`` (only with ``search`` on: the visible frame of a search; the fused frame carries
  the RGB stamp, so they pair by stamp);
  ``referring_text`` (``std_msgs/String``, reliable, volatile, depth 10: matches a plain
  ``ros2 topic pub``); an empty string clears the target;
* services ``~/set_prompt`` (``ris_fusion_msgs/SetReferringText``: acknowledges with success, a
  message and the active text; empty clears) and ``~/clear_prompt`` (``std_srvs/Trigger``);
* out ``~/active_text`` (``std_msgs/String``, reliable + **transient local**, depth 1: late joiners get
  the current target), ``referring/mask`` (mono8, 255 = referred), ``referring/result``
  (``ris_fusion_msgs/ReferringResult``), ``referring/overlay`` (rgb8), ``referring/markers``
  (``MarkerArray``), ``/diagnostics``. Outputs carry the fused image's header.

The text interface works in every lifecycle state (an operator may set the target before the
cameras run); frames are processed only while active. Detections come from the same detection
stage as ``detection_node`` (in the all-in-one executable both nodes share one model and one result
per frame); the referring core is :class:`ris_fusion_ros.core.referring.Referrer`.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from ris_fusion_msgs.msg import ReferredInstance, ReferringResult
from ris_fusion_msgs.srv import SetReferringText

from ..core.detection.types import Detection
from ..core.errors import RisFusionError
from ..core.feedback import search_again, search_image, validate_search
from ..core.fusion import RuntimeOptions, create_method, require_conditioning
from ..core.io.image_codec import array_to_image_fields, message_to_array, to_rgb8
from ..core.io.sync import header_stamp_ns
from ..core.pipeline.config import operating_point_config
from ..core.pipeline.overlay import draw_referring
from ..core.pipeline.stages import ReferringStage, selected_instances
from ..core.pipeline.text import DEFAULT_MAX_TEXT_LENGTH, ActiveText, TextUpdate
from ..core.referring.types import ReferredSelection
from .common import ParamSpec, overriding_options, sensor_qos
from .frame_node import COMMON_PARAMS, DETECTOR_PARAMS, FUSED_TOPIC, FrameStageNode
from .markers import referred_markers
from .runner import run_single_node

NODE_NAME = "referring_segmentation_node"
TEXT_TOPIC = "referring_text"
ACTIVE_TEXT_TOPIC = "~/active_text"
MASK_TOPIC = "referring/mask"
RESULT_TOPIC = "referring/result"
OVERLAY_TOPIC = "referring/overlay"
MARKERS_TOPIC = "referring/markers"
THERMAL_TOPIC = "fused/thermal"
THERMAL_KEEP = 8  # thermal frames kept while their fused partner is on its way
RGB_TOPIC = "rgb/image_raw"
SEARCH_FUSION_METHOD = "risfusenet"  # search 'fusion': the fusion with a control map the node loads for it
RGB_KEEP = 30  # visible frames kept for a search: about 1 s at 30 Hz, longer than fusion's worst latency

TEXT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)

REFERRING_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("default_text", "", "referring text active at start-up (empty: no target)", read_only=True),
    ParamSpec("max_text_length", DEFAULT_MAX_TEXT_LENGTH, "longer texts are rejected (characters)", 1, 65536,
              read_only=True),
    ParamSpec("overlay_alpha", 0.45, "opacity of the mask in referring/overlay", 0.0, 1.0),
    ParamSpec("use_thermal", True, "read fused/thermal (same stamp as fused/image) for thermal attributes "
              "(\"the warm person\") and box-prompted masks", read_only=True),
    ParamSpec("person_min_thermal_contrast", 15.0, "person boxes whose thermal contrast with a 6 px ring around "
              "them is below this (8-bit levels) are not referred; 0 = off; needs use_thermal", 0.0, 255.0,
              read_only=True),
    ParamSpec("thermal_wait_seconds", 0.1, "how long a frame waits for its fused/thermal partner (and a search for "
              "its rgb/image_raw partner) (s)", 0.0, 5.0),
    ParamSpec("search", "off", "referring search: when a text naming people (vehicles) matches nothing, detect again "
              "on the thermal (visible) frame of the same stamp (source), or on that frame fused again by RisFuseNet "
              "leaning fully to infrared (visible) (fusion; loads RisFuseNet here), and refer again",
              read_only=True, constraints="off, source or fusion"),
)


def result_message(selection: ReferredSelection, header: Any) -> ReferringResult:
    """The package's message for one selection (instances best first, as the referrer ordered them)."""
    mask = Image(header=header, **array_to_image_fields(selection.mask, "mono8"))
    result = ReferringResult(header=header, text=selection.text, mask=mask, no_match=bool(selection.no_match),
                             score=float(selection.score) if not selection.no_match else 0.0)
    for det, referring_score in selected_instances(selection):
        x1, y1, x2, y2 = det.box
        result.instances.append(ReferredInstance(
            x_min=float(x1), y_min=float(y1), x_max=float(x2), y_max=float(y2), score=float(det.score),
            class_id=int(det.class_id), class_name=det.class_name, referring_score=float(referring_score)))
    return result


class StampedFrames:
    """The last ``keep`` frames of one topic by stamp; a reader may wait a little for a stamp to arrive."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cv = threading.Condition()

    def put(self, stamp_ns: int, array: np.ndarray) -> None:
        with self._cv:
            self._frames[stamp_ns] = array
            while len(self._frames) > self.keep:
                self._frames.popitem(last=False)
            self._cv.notify_all()

    def get(self, stamp_ns: int, timeout: float) -> np.ndarray | None:
        with self._cv:
            self._cv.wait_for(lambda: stamp_ns in self._frames, timeout=timeout)
            return self._frames.get(stamp_ns)


class ReferringNode(FrameStageNode):
    """Fused image + operator text -> referred mask/result; see the module docstring."""

    PARAMS = DETECTOR_PARAMS + REFERRING_PARAMS + COMMON_PARAMS
    STAGE_NAME = "referring"

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.referring: ReferringStage | None = None
        self.text = ActiveText(max_length=self.param("max_text_length"))
        self._active_pub = self.create_publisher(String, ACTIVE_TEXT_TOPIC, LATCHED_QOS)
        self._text_sub = self.create_subscription(
            String, TEXT_TOPIC, self._on_text, TEXT_QOS,
            event_callbacks=self.qos_incidents.subscription_callbacks(TEXT_TOPIC))
        self._set_srv = self.create_service(SetReferringText, "~/set_prompt", self._on_set_prompt)
        self._clear_srv = self.create_service(Trigger, "~/clear_prompt", self._on_clear_prompt)
        self._mask_pub = self._result_pub = self._overlay_pub = self._marker_pub = None
        self.no_match_frames = 0
        self.matched_frames = 0
        self.thermal_missing = 0
        self._thermal = StampedFrames(THERMAL_KEEP)
        self._rgb = StampedFrames(RGB_KEEP)
        self.searched_frames = 0
        self.search_view_missing = 0
        self._search_fusion: Any = None  # RisFuseNet, loaded at configure for search 'fusion' only
        self._search_mode = "off"  # the search parameter, validated at configure
        default = self.param("default_text")
        if default:
            self.apply_text(default, "default_text")
        else:
            self._active_pub.publish(String(data=""))  # late joiners learn that no target is set

    # ----------------------------------------------------------------- text interface
    def apply_text(self, text: str, source: str) -> TextUpdate:
        update = self.text.set(text)
        if update.accepted:
            self.get_logger().info(f"{source}: {update.message}")
            self._active_pub.publish(String(data=update.active))
        else:
            self.bad_input("text_rejected", f"{source}: {update.message}")
        return update

    def _on_text(self, msg: String) -> None:
        self.apply_text(msg.data, TEXT_TOPIC)

    def _on_set_prompt(self, request: SetReferringText.Request,
                       response: SetReferringText.Response) -> SetReferringText.Response:
        update = self.apply_text(request.text, "set_prompt")
        response.success, response.message, response.active_text = update.accepted, update.message, update.active
        return response

    def _on_clear_prompt(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        update = self.apply_text("", "clear_prompt")
        response.success, response.message = update.accepted, update.message
        return response

    # ----------------------------------------------------------------- stage hooks
    def _load(self, values: dict[str, Any]) -> None:
        self.detection = self.load_detection(values)
        point = operating_point_config(values)
        self.referring = ReferringStage.create(values["person_min_thermal_contrast"], point)
        self._search_fusion = None
        self._search_mode = validate_search(values["search"])
        if self._search_mode == "fusion":
            runtime = RuntimeOptions(values["backend"], values["device"], "fp32", values["threads"])
            self._search_fusion = create_method(SEARCH_FUSION_METHOD, runtime)
            require_conditioning(self._search_fusion, "control", purpose="search 'fusion'")
        self._backend_info = self.detection.info()

    def _unload(self) -> None:
        self.release_detection()
        self.referring = None
        self._search_fusion = None

    def _extra_subscriptions(self) -> list[Any]:
        subscriptions = []
        if self.param("use_thermal"):
            subscriptions.append(self.create_subscription(
                Image, THERMAL_TOPIC, self._on_thermal, sensor_qos(),
                event_callbacks=self.qos_incidents.subscription_callbacks(THERMAL_TOPIC),
                qos_overriding_options=overriding_options()))
        if self._search_mode != "off":
            subscriptions.append(self.create_subscription(
                Image, RGB_TOPIC, self._on_rgb, sensor_qos(),
                event_callbacks=self.qos_incidents.subscription_callbacks(RGB_TOPIC),
                qos_overriding_options=overriding_options()))
        return subscriptions

    def _on_thermal(self, msg: Image) -> None:
        if msg.encoding != "mono8":
            self.bad_input("thermal_encoding", f"{THERMAL_TOPIC} must be mono8, got {msg.encoding!r}")
            return
        try:
            self._thermal.put(header_stamp_ns(msg), message_to_array(msg))
        except RisFusionError as exc:
            self.bad_input("thermal_data", exc)

    def _on_rgb(self, msg: Image) -> None:
        try:
            self._rgb.put(header_stamp_ns(msg), to_rgb8(message_to_array(msg), msg.encoding))
        except RisFusionError as exc:
            self.bad_input("rgb_data", exc)

    def _thermal_for(self, stamp_ns: int) -> np.ndarray | None:
        """The fused/thermal frame with this stamp, waiting up to thermal_wait_seconds for it."""
        if not self.param("use_thermal"):
            return None
        thermal = self._thermal.get(stamp_ns, self.param("thermal_wait_seconds"))
        if thermal is None:
            self.thermal_missing += 1
        return thermal

    def _search_view(self, lean: float, thermal: np.ndarray | None, stamp_ns: int, key: Any,
                     size: tuple[int, int]) -> list[Detection] | None:
        """The candidates of the search view leaning ``lean`` (:func:`~ris_fusion_ros.core.feedback.search_again`):
        the thermal frame (people) or the visible frame (vehicles) of this stamp, or the two fused again; None
        when a frame it needs is missing (counted)."""
        mode = self._search_mode
        vis = self._rgb.get(stamp_ns, self.param("thermal_wait_seconds")) if (lean < 0 or mode == "fusion") else None
        needs_ir, needs_vis = lean > 0 or mode == "fusion", lean < 0 or mode == "fusion"
        if (needs_ir and thermal is None) or (needs_vis and (vis is None or vis.shape[:2] != (size[1], size[0]))):
            self.search_view_missing += 1
            return None
        view = search_image(mode, lean, self._search_fusion, thermal, vis)
        self.searched_frames += 1
        return self.detection.referring_candidates(view, thermal, key=key, slot=f"search{lean:+g}")

    def _make_publishers(self) -> None:
        self._mask_pub = self.lifecycle_pub(Image, MASK_TOPIC)
        self._result_pub = self.lifecycle_pub(ReferringResult, RESULT_TOPIC)
        self._overlay_pub = self.lifecycle_pub(Image, OVERLAY_TOPIC)
        self._marker_pub = self.lifecycle_pub(MarkerArray, MARKERS_TOPIC)

    def _process(self, msg: Image, rgb: Any, stamp_ns: int) -> None:
        detection, referring = self.detection, self.referring
        if detection is None or referring is None:
            return
        text = self.text.text
        key = (stamp_ns, msg.header.frame_id)
        detection.detect(rgb, key=key)  # the fused frame first: its thermal partner arrives meanwhile
        size = (rgb.shape[1], rgb.shape[0])
        thermal = self._thermal_for(stamp_ns) if text else None
        if thermal is not None and thermal.shape != (size[1], size[0]):
            self.bad_input("thermal_size", f"{THERMAL_TOPIC} is {thermal.shape[1]}x{thermal.shape[0]} but "
                           f"{FUSED_TOPIC} is {size[0]}x{size[1]}; referring without thermal")
            thermal = None
        detections = detection.referring_candidates(rgb, thermal, key=key)  # the cached fused result (+ thermal)
        selection = referring.refer(text, detections, size, thermal=thermal)
        searched = search_again(selection, self._search_mode,
                                lambda lean: self._search_view(lean, thermal, stamp_ns, key, size),
                                lambda found: referring.refer(text, found, size, thermal=thermal))
        if searched is not None:
            selection, detections = searched
        if text:
            if selection.no_match:
                self.no_match_frames += 1
            else:
                self.matched_frames += 1
        result = result_message(selection, msg.header)
        self._mask_pub.publish(result.mask)
        self._result_pub.publish(result)
        if self.param("publish_overlay"):
            overlay = draw_referring(rgb, selection, self.param("overlay_alpha"))
            self._overlay_pub.publish(Image(header=msg.header, **array_to_image_fields(overlay, "rgb8")))
        if self.param("publish_markers"):
            self._marker_pub.publish(referred_markers(
                selection, msg.header, size, camera_info=self.camera_info,
                depth=self.param("marker_depth_meters"), text=text))

    def _extra_diagnostics(self) -> list[tuple[str, Any]]:
        return [("active_text", self.text.text[:80]), ("text_accepted", self.text.accepted),
                ("text_rejected", self.text.rejected), ("text_cleared", self.text.cleared),
                ("matched_frames", self.matched_frames), ("no_match_frames", self.no_match_frames),
                ("thermal_missing", self.thermal_missing), ("searched_frames", self.searched_frames),
                ("search_view_missing", self.search_view_missing)]


def main(argv: list[str] | None = None) -> int:
    """``python -m ris_fusion_ros.nodes.referring_node [--ros-args ...]``."""
    return run_single_node(ReferringNode, argv)


if __name__ == "__main__":
    sys.exit(main())
