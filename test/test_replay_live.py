"""A generated bag replayed offline (``Replayer``) and published into the live nodes (real rclpy) gives the
same outputs frame for frame: fused pixels, detections, referred masks and texts.

Fusion is the ``max`` baseline with percentile thermal normalisation (its temporal smoothing makes
the check order-sensitive); the detector is the hot-box test double of test_nodes_detection_referring.py;
the referrer is the referring core's. The bag's messages are published one at a time and each
pair is awaited, so the live nodes' newest-frame policy drops nothing (as it would not at 30 Hz).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import HotBoxDetector, require_ros_module

rclpy = require_ros_module("rclpy")
require_ros_module("ris_fusion_msgs.msg")
require_ros_module("vision_msgs.msg")
referring = pytest.importorskip("ris_fusion_ros.core.referring")

from builtin_interfaces.msg import Time  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402
from test_nodes_detection_referring import Graph  # noqa: E402

from ris_fusion_ros.core.io.image_codec import message_to_array  # noqa: E402
from ris_fusion_ros.core.io.sync import ApproximateTimeSync  # noqa: E402
from ris_fusion_ros.core.pipeline import DetectionStage, FusionStage, Pipeline, ReferringStage, merged  # noqa: E402
from ris_fusion_ros.core.pipeline import bag as bagio  # noqa: E402
from ris_fusion_ros.core.pipeline.bag_maker import BagPlan, make_bag  # noqa: E402
from ris_fusion_ros.core.pipeline.config import sync_config  # noqa: E402
from ris_fusion_ros.core.pipeline.replay import Replayer  # noqa: E402

H, W = 48, 64
PARAMS = {"fusion_method": "max", "thermal_offset_seconds": -0.12, "thermal_normalization": "percentile"}


def pairs(n: int = 5):
    out = []
    for i in range(n):
        ir = np.full((H, W), 40, np.uint8)
        ir[12:24, 4 + 6 * i:20 + 6 * i] = 230
        ir[30:40, 40:50] = 150 + 10 * i  # a second, cooler object that changes the percentiles
        vis = np.full((H, W, 3), 70, np.uint8)
        vis[:, :, 2] = 90
        out.append((f"p{i}", ir, vis))
    return out


def to_rclpy_image(msg) -> Image:
    header = Header(stamp=Time(sec=int(msg.header.stamp.sec), nanosec=int(msg.header.stamp.nanosec)),
                    frame_id=msg.header.frame_id)
    return Image(header=header, height=int(msg.height), width=int(msg.width), encoding=msg.encoding,
                 is_bigendian=int(msg.is_bigendian), step=int(msg.step), data=bytes(msg.data))


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def test_live_nodes_reproduce_the_offline_replay(tmp_path):
    plan = BagPlan(frames=24, drop_rgb=0.06, drop_thermal=0.06, seed=5,
                   texts=[(0.1, "the person"), (0.45, "the bicycle"), (0.6, "the person")])
    make_bag(pairs(), 5, tmp_path / "in", plan)
    values = merged(PARAMS)
    offline = Pipeline(FusionStage.from_values(values), ApproximateTimeSync(sync_config(values)),
                       DetectionStage(HotBoxDetector()), ReferringStage.create())
    Replayer(offline, tmp_path / "in", tmp_path / "out").run()
    off = {}
    for topic, _, _, msg in bagio.read_messages(tmp_path / "out"):
        if topic in ("/fused/image", "/detections", "/referring/result"):
            off.setdefault(stamp_ns(msg), {})[topic] = msg
    assert len(off) >= 15

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    # a loaded machine can deliver fused/thermal after the default 0.1 s wait: the frame would then be referred
    # without its thermal image (box masks instead of thermal ones), which the offline replay never does
    graph = Graph(ctx, **PARAMS, thermal_wait_seconds=2.0)
    try:
        graph.start()
        fusion = graph.nodes["fusion"]
        fused: list[Image] = []
        graph.peer.create_subscription(Image, "fused/image", fused.append, 10)
        graph.spin_until(lambda: False, 0.3)
        sent = 0
        for topic, _, _, msg in bagio.read_messages(tmp_path / "in"):
            if topic == "/referring_text":
                text = msg.data
                graph.text_pub.publish(String(data=text))
                assert graph.spin_until(lambda t=text: graph.nodes["referring"].text.text == t)
            elif topic in ("/thermal/image_raw", "/rgb/image_raw"):
                (graph.thermal_pub if topic.startswith("/thermal") else graph.rgb_pub).publish(to_rclpy_image(msg))
                sent += 1
                assert graph.spin_until(lambda n=sent: fusion._sync.stats.thermal.received
                                        + fusion._sync.stats.rgb.received == n)
                assert graph.spin_until(lambda: len(graph.got["result"]) == fusion._sync.stats.pairs
                                        and len(fused) == fusion._sync.stats.pairs
                                        and len(graph.got["det"]) == fusion._sync.stats.pairs, 5.0), (
                    len(graph.got["result"]), len(fused), len(graph.got["det"]), fusion._sync.stats, dict(fusion._bad))
        live_results = {stamp_ns(m): m for m in graph.got["result"]}
        live_fused = {stamp_ns(m): m for m in fused}
        live_det = {stamp_ns(m): m for m in graph.got["det"]}
        assert graph.nodes["referring"].thermal_missing == 0  # every referred frame had its thermal image
    finally:
        graph.close()
        rclpy.try_shutdown(context=ctx)
    # the offline replay also flushes the last waiting pair at the end of the bag; live nothing ends
    assert set(live_fused) <= set(off) and len(off) - len(live_fused) <= 1
    texts = set()
    for stamp, live in live_fused.items():
        o = off[stamp]
        assert np.array_equal(message_to_array(live), message_to_array(o["/fused/image"])), stamp
        od, ld = o["/detections"].detections, live_det[stamp].detections
        assert [(d.bbox.center.position.x, d.bbox.size_x, d.results[0].hypothesis.class_id) for d in od] == \
               [(d.bbox.center.position.x, d.bbox.size_x, d.results[0].hypothesis.class_id) for d in ld]
        orr, lr = o["/referring/result"], live_results[stamp]
        assert (orr.text, orr.no_match, len(orr.instances)) == (lr.text, lr.no_match, len(lr.instances)), stamp
        assert np.array_equal(message_to_array(orr.mask), message_to_array(lr.mask))
        texts.add((lr.text, lr.no_match))
    assert ("the person", False) in texts and ("the bicycle", True) in texts  # both outcomes were compared
