"""detection_node and referring_segmentation_node in-process with real rclpy, behind a real fusion_node.

The detector here is a *test double* (a box around the hot pixels of the fused frame, class
"person"), so box values can be asserted exactly; the node plumbing under test (decode, stamps,
frames, vision_msgs, markers, overlays, text interface, diagnostics) is the product's. The referrer
is the referring core's when it is installed; otherwise a class-name test double. Real models run in
test_nodes_all_in_one.py and the replay tests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import numpy as np
import pytest

from conftest import HotBoxDetector, require_ros_module

rclpy = require_ros_module("rclpy")
require_ros_module("ris_fusion_msgs.msg")
vision_msgs = require_ros_module("vision_msgs.msg")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from ris_fusion_msgs.msg import ReferringResult  # noqa: E402
from ris_fusion_msgs.srv import SetReferringText  # noqa: E402
from ris_fusion_ros.core.io.image_codec import array_to_image_fields, message_to_array  # noqa: E402
from ris_fusion_ros.core.pipeline import stages  # noqa: E402
from ris_fusion_ros.core.pipeline.stages import DetectionStage  # noqa: E402
from ris_fusion_ros.nodes.detection_node import DetectionNode  # noqa: E402
from ris_fusion_ros.nodes.frame_node import SharedDetection  # noqa: E402
from ris_fusion_ros.nodes.fusion_node import PARAMS as FUSION_PARAMS  # noqa: E402
from ris_fusion_ros.nodes.fusion_node import FusionNode  # noqa: E402
from ris_fusion_ros.nodes.referring_node import ReferringNode  # noqa: E402
from ris_fusion_ros.nodes.runner import shutdown_executor  # noqa: E402

H, W = 48, 64
ROWS, COLS = slice(10, 22), slice(30, 46)  # the hot object: x 30..45, y 10..21
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
UPSTREAM_DETECTION2DARRAY_HASH = "RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968"


class ClassNameReferrer:
    """Test double used only where the referring core is not installed: selects detections whose class
    name is a word of the text."""

    def refer(self, text, detections, size, thermal=None):
        from ris_fusion_ros.core.referring.types import ReferredSelection

        width, height = size
        mask = np.zeros((height, width), np.uint8)
        chosen = [i for i, d in enumerate(detections) if d.class_name in text.lower().split()]
        for i in chosen:
            x1, y1, x2, y2 = (int(v) for v in detections[i].box)
            mask[y1:y2, x1:x2] = 255
        return ReferredSelection(text, mask, detections, chosen, not chosen, 0.8 if chosen else 0.0, "test double",
                                 [0.8] * len(chosen))


@pytest.fixture(autouse=True)
def _referrer(monkeypatch):
    try:
        from ris_fusion_ros.core.referring import Referrer  # noqa: F401
    except ImportError:
        monkeypatch.setattr(stages.ReferringStage, "create", classmethod(lambda cls: cls(ClassNameReferrer())))


def stamp(msg, seconds: float, frame_id: str):
    ns = round(seconds * 1e9)
    msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
    msg.header.frame_id = frame_id
    return msg


def pair(seconds: float) -> tuple[Image, Image]:
    thermal = np.full((H, W), 1000, np.uint16)
    thermal[ROWS, COLS] = 30000
    rgb = np.full((H, W, 3), 40, np.uint8)
    return (stamp(Image(**array_to_image_fields(thermal, "mono16")), seconds, "thermal_optical"),
            stamp(Image(**array_to_image_fields(rgb, "rgb8")), seconds + 0.002, "rgb_optical"))


class Graph:
    """fusion_node -> detection_node + referring_segmentation_node, a peer with inputs and recorders."""

    def __init__(self, ctx, nodes=("fusion", "detection", "referring"), stage: DetectionStage | None = None,
                 **params) -> None:
        self.ns = f"/t{uuid.uuid4().hex[:10]}"
        base = {"fusion_method": "max", "diagnostics_period_seconds": 0.2, "thermal_normalization": "fixed",
                "thermal_min": 0.0, "thermal_max": 30000.0}
        base.update(params)

        def overrides(names):
            return [Parameter(k, value=v) for k, v in base.items() if k in names]

        shared = SharedDetection(stage or DetectionStage(HotBoxDetector(), 0.25))
        self.nodes = {}
        if "fusion" in nodes:
            self.nodes["fusion"] = FusionNode(context=ctx, namespace=self.ns,
                                              parameter_overrides=overrides({p.name for p in FUSION_PARAMS}))
        frame_keys = {p.name for p in ReferringNode.PARAMS}
        if "detection" in nodes:
            self.nodes["detection"] = DetectionNode(context=ctx, namespace=self.ns, shared_detection=shared,
                                                    parameter_overrides=overrides(frame_keys))
        if "referring" in nodes:
            self.nodes["referring"] = ReferringNode(context=ctx, namespace=self.ns, shared_detection=shared,
                                                    parameter_overrides=overrides(frame_keys))
        self.peer = Node("peer", context=ctx, namespace=self.ns)
        self.executor = MultiThreadedExecutor(num_threads=3, context=ctx)
        for node in [*self.nodes.values(), self.peer]:
            self.executor.add_node(node)
        self.thermal_pub = self.peer.create_publisher(Image, "thermal/image_raw", RELIABLE)
        self.rgb_pub = self.peer.create_publisher(Image, "rgb/image_raw", RELIABLE)
        self.fused_pub = self.peer.create_publisher(Image, "fused/image", RELIABLE)  # used when no fusion node
        self.text_pub = self.peer.create_publisher(String, "referring_text", RELIABLE)
        self.got: dict[str, list] = {k: [] for k in ("det", "det_overlay", "markers", "mask", "result", "ref_overlay",
                                                    "ref_markers", "diag")}
        for topic, kind, key in (("detections", vision_msgs.Detection2DArray, "det"),
                                 ("detections/overlay", Image, "det_overlay"), ("detections/markers", MarkerArray,
                                                                               "markers"),
                                 ("referring/mask", Image, "mask"), ("referring/result", ReferringResult, "result"),
                                 ("referring/overlay", Image, "ref_overlay"),
                                 ("referring/markers", MarkerArray, "ref_markers")):
            self.peer.create_subscription(kind, topic, self.got[key].append, RELIABLE)
        self.peer.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, RELIABLE)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(self.ns + "/"):
                self.got["diag"].append((status.name, status.level, {kv.key: kv.value for kv in status.values}))

    def diag(self, stage: str) -> list[tuple[int, dict]]:
        return [(level, values) for name, level, values in self.got["diag"] if name.endswith(f": {stage}")]

    def spin_until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return predicate()

    def start(self) -> None:
        for node in self.nodes.values():
            assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS, node.last_error
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        subscribers = [self.rgb_pub] if "fusion" in self.nodes else [self.fused_pub]
        assert self.spin_until(lambda: all(p.get_subscription_count() >= 1 for p in subscribers)
                               and self.text_pub.get_subscription_count() >= ("referring" in self.nodes))
        self.spin_until(lambda: False, 0.3)

    def send_pair(self, seconds: float) -> None:
        thermal, rgb = pair(seconds)
        self.thermal_pub.publish(thermal)
        self.rgb_pub.publish(rgb)
        # slower than the referring node's thermal wait (0.1 s): under load a newest-frame worker that waits
        # for every thermal partner would otherwise skip frames and the counts below would depend on timing
        self.spin_until(lambda: False, 0.12)

    def feed_until(self, predicate: Callable[[], bool], first: float, timeout: float = 30.0) -> list[float]:
        """Send pairs 1/30 s apart from stamp ``first`` until ``predicate`` holds (at least two: the sync emits a
        pair when the next frame arrives); the stamps sent. Newest-frame workers skip frames when the machine is
        loaded, so the tests wait for results, not for a fixed number of inputs."""
        sent: list[float] = []
        end = time.monotonic() + timeout
        while len(sent) < 2 or (not predicate() and time.monotonic() < end):
            sent.append(first + len(sent) / 30)
            self.send_pair(sent[-1])
        return sent

    def close(self) -> None:
        shutdown_executor(self.executor)  # rclpy's shutdown alone leaves handed-off handlers to fail later
        for node in [*self.nodes.values(), self.peer]:
            node.destroy_node()


@pytest.fixture
def ctx():
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


def call(graph: Graph, client, request):
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(request)
    assert graph.spin_until(future.done), "service call timed out"
    return future.result()


def test_fused_frames_give_detections_masks_and_overlays_with_source_stamp_and_frame(ctx):
    graph = Graph(ctx)
    try:
        graph.start()
        graph.text_pub.publish(String(data="the person"))
        assert graph.spin_until(lambda: graph.nodes["referring"].text.text == "the person")
        def enough():
            return (len(graph.got["det"]) >= 3 and len(graph.got["result"]) >= 3 and graph.got["markers"]
                    and graph.got["ref_overlay"])

        sent = graph.feed_until(enough, 10.0)
        assert graph.spin_until(enough)
        sent_stamps = {round((t + 0.002) * 1e9) for t in sent}
        for msg in graph.got["det"] + graph.got["mask"] + graph.got["result"] + graph.got["det_overlay"]:
            assert msg.header.frame_id == "rgb_optical"
            assert msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec in sent_stamps
        det = graph.got["det"][0].detections
        assert len(det) == 1
        assert (det[0].bbox.center.position.x, det[0].bbox.center.position.y) == (38.0, 16.0)
        assert (det[0].bbox.size_x, det[0].bbox.size_y) == (16.0, 12.0)
        assert det[0].results[0].hypothesis.class_id == "person"
        assert det[0].results[0].hypothesis.score == pytest.approx(0.9)
        result = graph.got["result"][-1]
        assert result.text == "the person" and not result.no_match and len(result.instances) == 1
        inst = result.instances[0]
        assert (inst.x_min, inst.y_min, inst.x_max, inst.y_max, inst.class_name) == (30, 10, 46, 22, "person")
        mask = message_to_array(graph.got["mask"][-1])
        assert graph.got["mask"][-1].encoding == "mono8" and mask.shape == (H, W)
        assert (mask[ROWS, COLS] == 255).all() and mask.sum() == 255 * 12 * 16
        overlay = message_to_array(graph.got["det_overlay"][0])
        assert overlay.shape == (H, W, 3) and graph.got["det_overlay"][0].encoding == "rgb8"
        markers = graph.got["markers"][-1].markers
        assert markers[0].action == Marker.DELETEALL
        assert [m.type for m in markers[1:]] == [Marker.LINE_STRIP, Marker.TEXT_VIEW_FACING]
        assert markers[1].header.frame_id == "rgb_optical" and len(markers[1].points) == 5
        assert graph.got["ref_markers"][-1].markers[2].text.endswith('"the person"')
        # a text naming nothing in the frame: no match, empty mask, never a guess
        graph.text_pub.publish(String(data="the bicycle"))
        assert graph.spin_until(lambda: graph.nodes["referring"].text.text == "the bicycle")
        count = len(graph.got["result"])
        def named():
            return any(r.text == "the bicycle" for r in graph.got["result"][count:])

        graph.feed_until(named, sent[-1] + 1 / 30)
        assert graph.spin_until(named)
        last = [r for r in graph.got["result"][count:] if r.text == "the bicycle"][-1]
        assert last.no_match and not last.instances and not np.any(message_to_array(last.mask))
        assert graph.spin_until(lambda: any(v.get("no_match_frames", "0") != "0" for _, v in graph.diag("referring")))
    finally:
        graph.close()


def test_detection_topic_has_the_upstream_vision_msgs_type_hash(ctx):
    graph = Graph(ctx, nodes=("detection",))
    try:
        graph.start()
        assert graph.spin_until(lambda: graph.peer.get_publishers_info_by_topic(f"{graph.ns}/detections"))
        info = graph.peer.get_publishers_info_by_topic(f"{graph.ns}/detections")[0]
        assert info.topic_type == "vision_msgs/msg/Detection2DArray"
        assert str(info.topic_type_hash) == UPSTREAM_DETECTION2DARRAY_HASH
    finally:
        graph.close()


def test_text_interface_service_latched_active_text_clear_and_rejections(ctx):
    graph = Graph(ctx, nodes=("referring",), max_text_length=100)
    try:
        graph.start()
        node = graph.nodes["referring"]
        set_client = graph.peer.create_client(SetReferringText, f"{node.get_fully_qualified_name()}/set_prompt")
        clear_client = graph.peer.create_client(Trigger, f"{node.get_fully_qualified_name()}/clear_prompt")
        reply = call(graph, set_client, SetReferringText.Request(text="  the person on the left "))
        assert reply.success and reply.active_text == "the person on the left"
        # a late joiner (transient local) sees the current target without anyone re-publishing it
        late: list[String] = []
        graph.peer.create_subscription(String, f"{node.get_fully_qualified_name()}/active_text", late.append, LATCHED)
        assert graph.spin_until(lambda: late and late[-1].data == "the person on the left")
        # 1 MB text and control characters: rejected, previous target stays, counted in diagnostics
        reply = call(graph, set_client, SetReferringText.Request(text="x" * 1_000_000))
        assert not reply.success and "max_text_length 100" in reply.message
        assert reply.active_text == "the person on the left"
        graph.text_pub.publish(String(data="bad\x07text"))  # (\x00 would end the ROS string)
        assert graph.spin_until(lambda: node.text.rejected == 2)
        assert node.text.text == "the person on the left"
        assert graph.spin_until(lambda: any(v.get("bad_input.text_rejected") == "2" and lvl == DiagnosticStatus.WARN
                                            for lvl, v in graph.diag("referring")))
        # clearing: empty string on the topic, and the Trigger service
        graph.text_pub.publish(String(data=""))
        assert graph.spin_until(lambda: late[-1].data == "")
        call(graph, set_client, SetReferringText.Request(text="car"))
        assert graph.spin_until(lambda: late[-1].data == "car")
        reply = call(graph, clear_client, Trigger.Request())
        assert reply.success and node.text.text == ""
        assert graph.spin_until(lambda: late[-1].data == "")
    finally:
        graph.close()


def test_bad_frames_are_diagnosed_and_the_next_good_frame_is_processed(ctx):
    graph = Graph(ctx, nodes=("detection",))
    try:
        graph.start()
        good = np.zeros((H, W, 3), np.uint8)
        good[ROWS, COLS] = 255
        node = graph.nodes["detection"]
        graph.fused_pub.publish(stamp(Image(**array_to_image_fields(good[:, :, 0].astype(np.uint16), "16UC1")),
                                      5.0, "cam"))  # wrong encoding
        assert graph.spin_until(lambda: node._bad["image_encoding"] == 1)  # (newest-frame worker: one at a time)
        truncated = stamp(Image(**array_to_image_fields(good, "rgb8")), 5.1, "cam")
        truncated.data = bytes(truncated.data)[:100]  # data shorter than height * step
        graph.fused_pub.publish(truncated)
        assert graph.spin_until(lambda: node._bad["image_data"] == 1)
        graph.fused_pub.publish(stamp(Image(**array_to_image_fields(good, "rgb8")), 6.0, "cam"))
        assert graph.spin_until(lambda: len(graph.got["det"]) == 1)
        graph.fused_pub.publish(stamp(Image(**array_to_image_fields(good, "rgb8")), 5.5, "cam"))  # backwards
        assert graph.spin_until(lambda: any(
            {"bad_input.image_encoding", "bad_input.image_data", "bad_input.stamp_backwards"} <= set(v)
            for _, v in graph.diag("detection")))
        graph.fused_pub.publish(stamp(Image(**array_to_image_fields(good, "rgb8")), 7.0, "cam"))
        assert graph.spin_until(lambda: len(graph.got["det"]) == 2)
        assert len(graph.got["det"][1].detections) == 1
    finally:
        graph.close()


def test_text_publisher_with_incompatible_qos_is_reported(ctx):
    graph = Graph(ctx, nodes=("referring",))
    try:
        graph.start()
        best_effort = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
        graph.peer.create_publisher(String, "referring_text", best_effort)
        node = graph.nodes["referring"]
        assert graph.spin_until(lambda: node.qos_incidents.total >= 1)
        assert graph.spin_until(lambda: any(int(v.get("incompatible_qos", "0")) >= 1
                                            for _, v in graph.diag("referring")))
    finally:
        graph.close()


def test_lifecycle_unknown_detector_fails_configure_with_reason_and_clean_teardown(ctx):
    node = DetectionNode(context=ctx, namespace=f"/t{uuid.uuid4().hex[:8]}",
                         parameter_overrides=[Parameter("detector", value="no-such-detector")])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "no-such-detector" in node.last_error
    finally:
        node.destroy_node()
    graph = Graph(ctx, nodes=("detection", "referring"))
    try:
        graph.start()
        for node in graph.nodes.values():
            assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
            assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
            assert node.detection is None
    finally:
        graph.close()


@pytest.mark.parametrize("mode", ["source", "fusion"])
def test_referring_search_finds_a_person_only_the_thermal_frame_shows(ctx, mode):
    """``source`` detects on the thermal frame itself; ``fusion`` on thermal + visible fused again by RisFuseNet
    leaning fully to infrared (the shipped weights render the warm block bright)."""
    graph = Graph(ctx, nodes=("referring",), search=mode)
    thermal_pub = graph.peer.create_publisher(Image, "fused/thermal", RELIABLE)
    try:
        graph.start()
        graph.text_pub.publish(String(data="the person"))
        assert graph.spin_until(lambda: graph.nodes["referring"].text.text == "the person")
        assert graph.spin_until(lambda: thermal_pub.get_subscription_count() >= 1 and
                                graph.rgb_pub.get_subscription_count() >= 1)

        def send(seconds: float) -> None:
            dark = np.full((H, W, 3), 40, np.uint8)  # the fused and the visible frame: the detector sees nothing
            thermal = np.full((H, W), 60, np.uint8)
            thermal[ROWS, COLS] = 250  # the person is only in the thermal frame
            for pub, array, encoding in ((thermal_pub, thermal, "mono8"), (graph.rgb_pub, dark, "rgb8"),
                                         (graph.fused_pub, dark, "rgb8")):
                pub.publish(stamp(Image(**array_to_image_fields(array, encoding)), seconds, "rgb_optical"))
            graph.spin_until(lambda: False, 0.12)

        def found() -> bool:
            return any(r.text == "the person" and not r.no_match for r in graph.got["result"])

        t = 20.0
        while not found() and t < 26.0:
            send(t)
            t += 1 / 30
        assert found()
        result = next(r for r in graph.got["result"] if r.text == "the person" and not r.no_match)
        inst = result.instances[0]
        assert (inst.x_min, inst.y_min, inst.x_max, inst.y_max, inst.class_name) == (30, 10, 46, 22, "person")
        assert graph.nodes["referring"].searched_frames >= 1
        # a vehicle looks at the visible frame of the same stamp (dark here: still no match, but searched)
        graph.text_pub.publish(String(data="the car"))
        assert graph.spin_until(lambda: graph.nodes["referring"].text.text == "the car")
        before = graph.nodes["referring"].searched_frames
        while graph.nodes["referring"].searched_frames == before and t < 32.0:
            send(t)
            t += 1 / 30
        assert graph.nodes["referring"].searched_frames > before  # it had the visible frame of that stamp
        assert all(r.no_match for r in graph.got["result"] if r.text == "the car")
        assert graph.spin_until(lambda: any(v.get("searched_frames", "0") != "0" for _, v in graph.diag("referring")))
    finally:
        graph.close()


def test_referring_search_rejects_an_unknown_mode_at_configure(ctx):
    graph = Graph(ctx, nodes=("referring",), search="everywhere")
    try:
        node = graph.nodes["referring"]
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "search must be one of off, fusion, source" in node.last_error
    finally:
        graph.close()


@pytest.mark.parametrize(("overrides", "expected"), [
    ([], (0.35, None, True)),  # the defaults: the default detector's operating point
    ([Parameter("thermal_stream", value=False), Parameter("min_score", value=0.4)], (0.4, None, False)),  # a bool
    ([Parameter("thermal_stream", value="on"), Parameter("detector", value="yolox-nano")], (0.25, 0.15, True)),
])
def test_operating_point_parameters_take_auto_explicit_scores_and_a_bool_or_word_thermal_stream(ctx, overrides,
                                                                                                expected):
    from ris_fusion_ros.core.pipeline.config import operating_point_config
    from ris_fusion_ros.nodes.common import parameter_values

    node = ReferringNode(context=ctx, namespace=f"/t{uuid.uuid4().hex[:8]}", parameter_overrides=overrides)
    try:
        point = operating_point_config(parameter_values(node, node.PARAMS))
        assert (point.min_score, point.second_look_score, point.thermal_stream) == expected
    finally:
        node.destroy_node()


class _ThermalFramePerson:
    """Finds a person (0.9) around the hot pixels of a one-channel (thermal) frame only; records batch sizes."""

    class_names = ("person",)

    def __init__(self) -> None:
        self.batches: list[list[int]] = []  # per call: the channel count of each image

    def detect_many(self, images, conf=None):
        self.batches.append([1 if image.ndim == 2 else image.shape[2] for image in images])
        return [self._one(image) for image in images]

    def detect(self, image, conf=None):
        return self.detect_many([image], conf)[0]

    @staticmethod
    def _one(image):
        from ris_fusion_ros.core.detection.types import Detection

        if image.ndim == 3:
            return []
        ys, xs = np.nonzero(image > 200)
        return [Detection((float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)), 0.9, 0,
                          "person")] if xs.size else []

    def info(self) -> dict:
        return {"model": "thermal-frame person test double"}


def test_referring_node_merges_the_people_of_the_thermal_frame_when_the_thermal_stream_is_on(ctx):
    detector = _ThermalFramePerson()
    graph = Graph(ctx, stage=DetectionStage(detector, 0.25, None, thermal_stream=True), min_score=0.25,
                  second_look_score=0.25, thermal_stream=True)
    try:
        graph.start()
        graph.text_pub.publish(String(data="the person"))
        assert graph.spin_until(lambda: graph.nodes["referring"].text.text == "the person")

        def found():
            return any(not r.no_match for r in graph.got["result"])

        graph.feed_until(found, 10.0)
        assert graph.spin_until(found)
        result = next(r for r in graph.got["result"] if not r.no_match)
        inst = result.instances[0]
        assert (inst.x_min, inst.y_min, inst.x_max, inst.y_max, inst.class_name) == (30, 10, 46, 22, "person")
        assert all(len(d.detections) == 0 for d in graph.got["det"])  # published: the fused frame's only
        assert any(1 in channels for channels in detector.batches)  # the thermal frame went through the detector
    finally:
        graph.close()
