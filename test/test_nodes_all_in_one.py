"""``ris_fusion_pipeline`` (three nodes, one process, real models: RisFuseNet, YOLOX-nano, the referring
core) fed MSRS pairs over real rclpy from this process: fused frames, detections that equal the
detection core run on the same fused frame, and referring results for the operator's text."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from conftest import require_ros_module

rclpy = require_ros_module("rclpy")
require_ros_module("ris_fusion_msgs.msg")
vision_msgs = require_ros_module("vision_msgs.msg")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from ris_fusion_msgs.msg import ReferringResult  # noqa: E402
from ris_fusion_ros.core.io.image_codec import array_to_image_fields, message_to_array  # noqa: E402

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def test_all_in_one_process_with_real_models(shared_root):
    from ris_fusion_ros.core.data.datasets import open_dataset
    from ris_fusion_ros.core.detection import create_detector
    from ris_fusion_ros.core.referring.operating_point import detector_operating_point

    dataset = open_dataset("msrs", shared=shared_root)
    pairs = [dataset[i] for i in range(3)]
    ns = f"/aio{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ris_fusion_ros.nodes.pipeline_main", "--ros-args",
                             "-r", f"__ns:={ns}", "-p", "thermal_offset_seconds:=0.0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = Node("aio_peer", context=ctx, namespace=ns)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    got: dict[str, list] = {"fused": [], "det": [], "result": [], "active": []}
    node.create_subscription(Image, "fused/image", got["fused"].append, RELIABLE)
    node.create_subscription(vision_msgs.Detection2DArray, "detections", got["det"].append, RELIABLE)
    node.create_subscription(ReferringResult, "referring/result", got["result"].append, RELIABLE)
    thermal_pub = node.create_publisher(Image, "thermal/image_raw", RELIABLE)
    rgb_pub = node.create_publisher(Image, "rgb/image_raw", RELIABLE)
    text_pub = node.create_publisher(String, "referring_text", RELIABLE)
    node.create_subscription(String, "referring_segmentation_node/active_text", lambda m: got["active"].append(m.data),
                             LATCHED)

    def spin_until(predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and proc.poll() is None:
            if predicate():
                return True
            executor.spin_once(timeout_sec=0.05)
        return predicate()

    try:
        assert spin_until(lambda: rgb_pub.get_subscription_count() and text_pub.get_subscription_count()
                          and node.count_publishers("referring/result"), 90), "nodes did not come up"
        # Our publisher can see the subscription before the node has matched our publisher (DDS discovery is
        # not symmetric), and a volatile message sent in that window is lost: repeat until the node's
        # transient-local active_text acknowledges the target.
        for _ in range(40):
            text_pub.publish(String(data="the car"))
            if spin_until(lambda: "the car" in got["active"], 0.5):
                break
        assert "the car" in got["active"], got["active"]
        t0 = 1_800_000_000.0

        def done():
            return got["fused"] and got["det"] and any(r.text == "the car" for r in got["result"])

        # 10 Hz until the results are in: the pipeline skips frames while busy (newest-frame policy), so under
        # load a fixed number of frames may all be skipped but the last; keep sending, as a camera does
        end, i = time.monotonic() + 90, 0
        while proc.poll() is None and (i < 2 or (not done() and time.monotonic() < end)):
            pair = pairs[i % len(pairs)]
            ns_stamp = round((t0 + i * 0.1) * 1e9)
            for pub, array, enc, frame in ((thermal_pub, pair.ir.astype(np.uint16) * 100 + 7000, "mono16", "ir"),
                                           (rgb_pub, pair.vis, "rgb8", "rgb_optical")):
                msg = Image(**array_to_image_fields(array, enc))
                msg.header.stamp.sec, msg.header.stamp.nanosec = ns_stamp // 10**9, ns_stamp % 10**9
                msg.header.frame_id = frame
                pub.publish(msg)
            spin_until(lambda: False, 0.1)
            i += 1
        assert done(), {k: len(v) for k, v in got.items() if k != "active"}
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in out, out
    fused = {f.header.stamp.sec * 10**9 + f.header.stamp.nanosec: f for f in got["fused"]}
    det = next(d for d in got["det"] if d.header.stamp.sec * 10**9 + d.header.stamp.nanosec in fused)
    frame = fused[det.header.stamp.sec * 10**9 + det.header.stamp.nanosec]
    assert frame.header.frame_id == det.header.frame_id == "rgb_optical" and (frame.width, frame.height) == (640, 480)
    published_from = detector_operating_point("yolox-nano-msrs").min_score  # the nodes' default: its operating point
    expected = create_detector("yolox-nano-msrs", conf=published_from).detect(message_to_array(frame))
    assert len(det.detections) == len(expected) >= 1
    for d, e in zip(det.detections, expected, strict=True):
        assert d.results[0].hypothesis.class_id == e.class_name
        assert d.bbox.center.position.x == pytest.approx(e.center[0], abs=1e-3)
        assert d.bbox.size_y == pytest.approx(e.height, abs=1e-3)
    result = next(r for r in got["result"] if r.text == "the car")
    mask = message_to_array(result.mask)
    assert mask.shape == (480, 640) and set(np.unique(mask)) <= {0, 255}
    assert result.no_match == (not result.instances) and all(i.class_name == "car" for i in result.instances)
