"""fusion_node in-process with real rclpy: lifecycle, fused output content, bad input, QoS, parameters.

Each test has its own rclpy Context and a unique namespace (other runs may share the DDS domain);
``/diagnostics`` is filtered by the node's fully qualified name.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from conftest import require_ros_module

rclpy = require_ros_module("rclpy")
require_ros_module("diagnostic_msgs.msg")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from ris_fusion_ros.core.io.image_codec import array_to_image_fields, message_to_array  # noqa: E402
from ris_fusion_ros.nodes.fusion_node import FusionNode  # noqa: E402

H, W = 48, 64
SQUARE = (slice(10, 22), slice(30, 46))  # rows, cols of the hot object
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def make_image(array: np.ndarray, encoding: str, stamp_s: float, frame_id: str) -> Image:
    msg = Image(**array_to_image_fields(array, encoding))
    ns = round(stamp_s * 1e9)
    msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
    msg.header.frame_id = frame_id
    return msg


def hot_thermal(height: int = H, width: int = W) -> np.ndarray:
    thermal = np.full((height, width), 1000, np.uint16)
    thermal[SQUARE] = 30000
    return thermal


def grey_bgr(height: int = H, width: int = W) -> np.ndarray:
    bgr = np.full((height, width, 3), 60, np.uint8)
    bgr[:, :, 0] = 80  # a little blue so the channel order matters
    return bgr


@contextmanager
def ros_context() -> Iterator[object]:
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        rclpy.try_shutdown(context=ctx)


class Harness:
    """The node under test plus a peer node with input publishers and output subscriptions."""

    def __init__(self, ctx, **params) -> None:
        self.ns = f"/t{uuid.uuid4().hex[:10]}"
        defaults = {"fusion_method": "max", "diagnostics_period_seconds": 0.2}
        overrides = [Parameter(k, value=v) for k, v in {**defaults, **params}.items()]
        self.node = FusionNode(context=ctx, namespace=self.ns, parameter_overrides=overrides)
        self.peer = Node("peer", context=ctx, namespace=self.ns)
        self.executor = SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self.thermal_pub = self.peer.create_publisher(Image, "thermal/image_raw", RELIABLE)
        self.rgb_pub = self.peer.create_publisher(Image, "rgb/image_raw", RELIABLE)
        self.info_pub = self.peer.create_publisher(CameraInfo, "rgb/camera_info", RELIABLE)
        self.fused: list[Image] = []
        self.infos: list[CameraInfo] = []
        self.diagnostics: list[dict[str, str]] = []
        self.levels: list[bytes] = []
        self.peer.create_subscription(Image, "fused/image", self.fused.append, RELIABLE)
        self.peer.create_subscription(CameraInfo, "fused/camera_info", self.infos.append, RELIABLE)
        self.peer.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, RELIABLE)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == f"{self.ns}/fusion_node: fusion":
                self.diagnostics.append({kv.key: kv.value for kv in status.values})
                self.levels.append(status.level)

    def spin_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return predicate()

    def start(self) -> None:
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS, self.node.last_error
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert self.spin_until(lambda: self.thermal_pub.get_subscription_count() >= 1
                               and self.rgb_pub.get_subscription_count() >= 1
                               and self.info_pub.get_subscription_count() >= 1
                               and self.node.count_subscribers("fused/image") >= 1), "discovery timed out"
        self.spin_until(lambda: False, 0.3)  # let the subscriber side finish matching too

    def send(self, thermal: Image | None, rgb: Image | None) -> None:
        if thermal is not None:
            self.thermal_pub.publish(thermal)
        if rgb is not None:
            self.rgb_pub.publish(rgb)
        self.spin_until(lambda: False, 0.05)

    def diag_value(self, key: str, default: str = "0") -> str:
        return self.diagnostics[-1].get(key, default) if self.diagnostics else default

    def wait_diag(self, key: str, minimum: float, timeout: float = 5.0) -> bool:
        return self.spin_until(lambda: float(self.diag_value(key)) >= minimum, timeout)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.peer.destroy_node()


@contextmanager
def harness(**params) -> Iterator[Harness]:
    with ros_context() as ctx:
        h = Harness(ctx, **params)
        try:
            yield h
        finally:
            h.close()


def state_label(node: FusionNode) -> str:
    return node._state_machine.current_state[1]


def test_lifecycle_transitions_and_reconfigure():
    with ros_context() as ctx:
        node = FusionNode(context=ctx, parameter_overrides=[Parameter("fusion_method", value="max")])
        try:
            assert node.get_name() == "fusion_node"
            assert state_label(node) == "unconfigured"
            for trigger, label in ((node.trigger_configure, "inactive"), (node.trigger_activate, "active"),
                                   (node.trigger_deactivate, "inactive"), (node.trigger_cleanup, "unconfigured"),
                                   (node.trigger_configure, "inactive"), (node.trigger_activate, "active")):
                assert trigger() == TransitionCallbackReturn.SUCCESS
                assert state_label(node) == label
            assert node.count_subscribers("fused/image") == 0  # no peer; the publisher exists though
            assert node.count_publishers("fused/image") == 1
        finally:
            node.destroy_node()


def test_configure_fails_with_reason_for_unknown_method():
    with ros_context() as ctx:
        node = FusionNode(context=ctx, parameter_overrides=[Parameter("fusion_method", value="nope")])
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
            assert state_label(node) == "unconfigured"
            assert "unknown fusion method 'nope'" in node.last_error and "max" in node.last_error
        finally:
            node.destroy_node()


def test_configure_fails_with_reason_for_unknown_backend():
    with ros_context() as ctx:
        overrides = [Parameter("fusion_method", value="risfusenet"), Parameter("backend", value="nonsense")]
        node = FusionNode(context=ctx, parameter_overrides=overrides)
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
            assert "unknown backend 'nonsense'" in node.last_error
        finally:
            node.destroy_node()


def test_pair_is_fused_with_rgb_header_and_hot_square():
    with harness() as h:
        h.start()
        info = CameraInfo(width=W, height=H, distortion_model="plumb_bob")
        info.header.frame_id = "rgb_optical"
        h.info_pub.publish(info)
        h.spin_until(lambda: h.node._camera_info is not None, 2.0)
        stamp = 100.25
        # retry with new stamps in case a best-effort sample is lost while matching settles
        for i in range(5):
            h.send(make_image(hot_thermal(), "mono16", stamp + i, "thermal_optical"),
                   make_image(grey_bgr(), "bgr8", stamp + i, "rgb_optical"))
            if h.spin_until(lambda: bool(h.fused), 1.0):
                break
        assert h.fused, "no fused image"
        msg = h.fused[0]
        sent = round((stamp + i) * 1e9)
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == divmod(sent, 1_000_000_000)
        assert msg.header.frame_id == "rgb_optical"
        assert (msg.encoding, msg.height, msg.width) == ("rgb8", H, W)
        fused = message_to_array(msg)
        hot = fused[SQUARE].mean(axis=2)
        mask = np.ones((H, W), bool)
        mask[SQUARE] = False
        assert hot.min() > 200, "hot thermal square must be bright in the fused image"
        assert fused[mask].mean() < 110, "background must stay near the RGB grey"
        # chroma comes from RGB: blue (bgr channel 0 = 80) stays the strongest channel in the background
        background = fused[mask].reshape(-1, 3).mean(axis=0)
        assert background[2] > background[0]
        assert h.spin_until(lambda: bool(h.infos), 2.0)
        assert h.infos[0].header.stamp == msg.header.stamp and h.infos[0].width == W
        assert h.wait_diag("fused", 1)
        assert float(h.diag_value("latency_p50_ms", "nan")) >= 0.0
        assert h.diag_value("backend").startswith("name=max")


def test_unpaired_stamps_produce_nothing_and_are_counted():
    with harness(sync_slop_seconds=0.01) as h:
        h.start()
        h.send(make_image(hot_thermal(), "mono16", 10.0, "t"), None)
        h.send(None, make_image(grey_bgr(), "bgr8", 11.0, "c"))
        h.send(make_image(hot_thermal(), "mono16", 12.0, "t"), None)
        h.send(None, make_image(grey_bgr(), "bgr8", 13.0, "c"))
        assert h.wait_diag("thermal_unmatched", 1) and h.wait_diag("rgb_unmatched", 1)
        assert h.wait_diag("thermal_received", 2) and h.wait_diag("rgb_received", 2)
        assert not h.fused and h.diag_value("pairs") == "0"
        assert int(h.diag_value("thermal_dropped")) >= 1
        # a stamp going backwards is counted, not paired
        h.send(make_image(hot_thermal(), "mono16", 5.0, "t"), None)
        assert h.wait_diag("thermal_backwards", 1)
        assert not h.fused


def test_bad_inputs_are_counted_and_next_good_pair_is_fused():
    with harness() as h:
        h.start()
        rgb = grey_bgr()
        wrong_encoding = make_image(np.zeros((H, W, 3), np.uint8), "rgb8", 1.0, "t")
        h.send(wrong_encoding, make_image(rgb, "bgr8", 1.0, "c"))
        small = make_image(hot_thermal(H // 2, W // 2), "mono16", 2.0, "t")
        h.send(small, make_image(rgb, "bgr8", 2.0, "c"))
        short = make_image(hot_thermal(), "mono16", 3.0, "t")
        short.data = bytes(short.data)[:-10]  # data length mismatch
        h.send(short, make_image(rgb, "bgr8", 3.0, "c"))
        assert h.wait_diag("bad_input.thermal_encoding", 1)
        assert h.wait_diag("bad_input.size_mismatch", 1)
        assert h.wait_diag("bad_input.thermal_data", 1)
        assert DiagnosticStatus.WARN in h.levels  # WARN while bad input keeps arriving
        # NaN pixels in a 32FC1 thermal frame are counted, and the pair is still fused
        kelvin = hot_thermal().astype(np.float32) / 100.0
        kelvin[0, :4] = np.nan
        for i in range(5):
            h.send(make_image(kelvin, "32FC1", 4.0 + i, "t"), make_image(rgb, "bgr8", 4.0 + i, "c"))
            if h.spin_until(lambda: bool(h.fused), 1.0):
                break
        assert h.fused and h.fused[0].header.stamp.sec == 4 + i
        assert message_to_array(h.fused[0])[SQUARE].mean() > 200
        assert h.wait_diag("thermal_nonfinite_pixels", 4)


def test_invalid_parameter_values_are_rejected_with_reason():
    with ros_context() as ctx:
        node = FusionNode(context=ctx, parameter_overrides=[Parameter("fusion_method", value="max")])
        try:
            result = node.set_parameters([Parameter("sync_slop_seconds", value=-0.1)])[0]
            assert not result.successful and result.reason
            result = node.set_parameters([Parameter("thermal_low_percentile", value=99.5)])[0]
            assert not result.successful and "low_percentile" in result.reason
            result = node.set_parameters([Parameter("thermal_normalization", value="banana")])[0]
            assert not result.successful and "percentile" in result.reason
            result = node.set_parameters([Parameter("fusion_method", value="average")])[0]
            assert not result.successful  # read-only: needs a new node/override
            assert node.set_parameters([Parameter("thermal_smoothing", value=0.5)])[0].successful
            assert node.get_parameter("thermal_smoothing").value == pytest.approx(0.5)
            descriptor = node.describe_parameter("sync_slop_seconds")
            assert descriptor.floating_point_range[0].from_value == 0.0 and descriptor.description
        finally:
            node.destroy_node()


def test_incompatible_qos_is_counted():
    with harness() as h:
        h.start()
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        h.peer.create_subscription(Image, "fused/image", lambda _msg: None, latched)
        assert h.spin_until(lambda: h.node.qos_incidents.total >= 1, 5.0)
        assert h.node.qos_incidents.by_topic.get("fused/image", 0) >= 1
        assert h.wait_diag("incompatible_qos", 1)


def test_risfusenet_pair_is_fused():
    with harness(fusion_method="risfusenet", threads=1) as h:
        h.start()
        for i in range(5):
            h.send(make_image(hot_thermal(), "mono16", 50.0 + i, "t"), make_image(grey_bgr(), "bgr8", 50.0 + i, "c"))
            if h.spin_until(lambda: bool(h.fused), 3.0):
                break
        assert h.fused, "no fused image from risfusenet"
        fused = message_to_array(h.fused[0])
        assert fused.shape == (H, W, 3) and fused.dtype == np.uint8
        assert fused[SQUARE].mean() > fused[:5, :5].mean()  # the hot object stands out
        assert "risfusenet" in h.diag_value("backend", "") or h.spin_until(
            lambda: "risfusenet" in h.diag_value("backend", ""), 2.0)


def test_stalled_stream_is_reported_as_warning():
    with harness(stall_timeout_seconds=0.5) as h:
        h.start()
        h.send(make_image(hot_thermal(), "mono16", 1.0, "t"), make_image(grey_bgr(), "bgr8", 1.0, "c"))
        for k in range(1, 5):  # RGB keeps coming, thermal does not
            h.send(None, make_image(grey_bgr(), "bgr8", 1.0 + 0.3 * k, "c"))
        assert h.spin_until(lambda: h.diag_value("thermal_stalled", "False") == "True", 5.0)
        assert h.levels[-1] == DiagnosticStatus.WARN
        assert h.diag_value("rgb_stalled", "") == "False"


def test_only_the_latest_pair_waits_for_the_worker():
    with ros_context() as ctx:
        node = FusionNode(context=ctx, parameter_overrides=[Parameter("fusion_method", value="max")])
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # configured: no worker yet
            for stamp in (1, 2, 3):
                node._push("thermal", stamp * 10**9, (hot_thermal(), None, "mono16"))
                node._push("rgb", stamp * 10**9, (grey_bgr(), None, "bgr8"))
            assert node._stale_pairs == 2 and node._pending.rgb_stamp_ns == 3 * 10**9
        finally:
            node.destroy_node()


def test_main_autostarts_and_exits_cleanly_on_sigint():
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    ns = f"/t{uuid.uuid4().hex[:10]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ris_fusion_ros.nodes.fusion_node", "--ros-args", "-p", "fusion_method:=max",
         "-r", f"__ns:={ns}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.rstrip().endswith("active"):
                break
        assert any("configured: name=max" in line for line in lines), "".join(lines)
        assert lines and lines[-1].rstrip().endswith("active"), "".join(lines)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, "".join(lines) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_calibration_file_warps_thermal_into_rgb_frame(tmp_path):
    calibration = tmp_path / "calib.yaml"
    calibration.write_text("homography: [2.0, 0.0, 0.5, 0.0, 2.0, 0.5, 0.0, 0.0, 1.0]\n"
                           f"thermal_size: [{W // 2}, {H // 2}]\nrgb_size: [{W}, {H}]\n")
    with harness(calibration_file=str(calibration)) as h:
        h.start()
        thermal = np.full((H // 2, W // 2), 1000, np.uint16)
        thermal[5:11, 15:23] = 30000  # SQUARE at half resolution
        wrong_size = make_image(hot_thermal(), "mono16", 1.0, "t")  # full-size thermal: not what was calibrated
        h.send(wrong_size, make_image(grey_bgr(), "bgr8", 1.0, "c"))
        assert h.wait_diag("bad_input.registration", 1)
        for i in range(5):
            h.send(make_image(thermal, "mono16", 2.0 + i, "t"), make_image(grey_bgr(), "bgr8", 2.0 + i, "c"))
            if h.spin_until(lambda: bool(h.fused), 1.0):
                break
        assert h.fused
        fused = message_to_array(h.fused[0])
        assert fused.shape == (H, W, 3)
        assert fused[12:20, 32:44].mean() > 200 and fused[30:, :20].mean() < 110
