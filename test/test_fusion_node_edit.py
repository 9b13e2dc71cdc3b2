"""fusion_node with real rclpy: an edit command on ``fusion_edit_text`` changes the fused output inside
the object referred over the ``detections`` topic and nowhere else; a late ``~/edit_status``
subscriber (transient local) sees the reply; diagnostics report the edits; ``reset`` restores plain
fusion."""

from __future__ import annotations

import numpy as np

from conftest import require_ros_module

rclpy = require_ros_module("rclpy")
vision_msgs = require_ros_module("vision_msgs.msg")

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402
from test_fusion_node import RELIABLE, H, W, grey_bgr, harness, hot_thermal, make_image  # noqa: E402

from ris_fusion_ros.core.color import to_gray  # noqa: E402
from ris_fusion_ros.core.detection.types import Detection  # noqa: E402
from ris_fusion_ros.core.io.image_codec import message_to_array  # noqa: E402
from ris_fusion_ros.nodes.vision import from_detection2d_array, to_detection2d_array  # noqa: E402

BOX = (24, 6, 52, 26)  # x1, y1, x2, y2: the hot square (rows 10:22, cols 30:46) and some street around it
LATCHED = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
FIXED = {"thermal_normalization": "fixed", "thermal_min": 0.0, "thermal_max": 40000.0}  # no state between frames


def test_detection2d_array_round_trip():
    det = Detection((24.0, 6.0, 52.0, 26.0), 0.75, 0, "person")
    back = from_detection2d_array(to_detection2d_array([det], Header()), ("person", "car"))
    assert [(d.box, d.class_id, d.class_name) for d in back] == [(det.box, 0, "person")]
    assert abs(back[0].score - 0.75) < 1e-6


def test_edit_command_changes_the_referred_object_only_and_late_joiners_see_the_reply():
    with harness(**FIXED) as h:
        h.start()
        edit_pub = h.peer.create_publisher(String, "fusion_edit_text", RELIABLE)
        det_pub = h.peer.create_publisher(vision_msgs.Detection2DArray, "detections", RELIABLE)
        assert h.spin_until(lambda: edit_pub.get_subscription_count() >= 1 and det_pub.get_subscription_count() >= 1)
        stamp = [200.0]

        def fused_frame() -> np.ndarray:
            count = len(h.fused)
            for _ in range(5):  # new stamps each try (a best-effort sample may be lost while matching settles)
                stamp[0] += 1.0
                h.send(make_image(hot_thermal(), "mono16", stamp[0], "thermal_optical"),
                       make_image(grey_bgr(), "bgr8", stamp[0], "rgb_optical"))
                if h.spin_until(lambda: len(h.fused) > count, 1.0):
                    return message_to_array(h.fused[-1])
            raise AssertionError("no fused image")

        plain = fused_frame()
        det = Detection((float(BOX[0]), float(BOX[1]), float(BOX[2]), float(BOX[3])), 0.9, 0, "person")
        for _ in range(5):
            det_pub.publish(to_detection2d_array([det], h.fused[-1].header))
            if h.spin_until(lambda: h.node._edits.status()["detections"] == 1, 1.0):
                break
        assert h.node._edits.status()["detections"] == 1, "detections did not arrive"
        edit_pub.publish(String(data="darken the person"))
        assert h.spin_until(lambda: h.node._edits.active, 3.0), "edit command did not arrive"
        assert h.node._edits.wait_ready(10.0)
        edited = fused_frame()
        change = to_gray(edited) - to_gray(plain)
        inside = np.zeros((H, W), bool)
        inside[BOX[1]:BOX[3], BOX[0]:BOX[2]] = True
        assert np.abs(change[~inside]).max() == 0
        assert change[inside].mean() < -3.0
        # a subscriber that joins after the command still gets the reply (transient local)
        replies: list[str] = []
        h.peer.create_subscription(String, "fusion_node/edit_status", lambda m: replies.append(m.data), LATCHED)
        assert h.spin_until(lambda: any("darken person" in r for r in replies), 3.0), replies
        assert any(r.startswith("[ok] 'darken the person'") and "exposure" in r for r in replies)
        assert h.spin_until(lambda: "exposure" in h.diag_value("edits_active", ""), 3.0)
        # a diagnostics message may predate the edited frame ("n/a"): wait for one that timed it
        assert h.spin_until(lambda: h.diag_value("edit_p99_ms", "n/a") != "n/a", 5.0)
        assert float(h.diag_value("edit_p99_ms", "nan")) > 0
        # a rejected command changes nothing and is counted; reset restores plain fusion
        edit_pub.publish(String(data="darken\x01 everything"))
        assert h.spin_until(lambda: any(r.startswith("[rejected]") for r in replies), 3.0)
        np.testing.assert_array_equal(fused_frame(), edited)
        edit_pub.publish(String(data="reset"))
        assert h.spin_until(lambda: not h.node._edits.active, 3.0)
        np.testing.assert_array_equal(fused_frame(), plain)
        assert h.spin_until(lambda: h.diag_value("edit_commands_rejected") == "1", 3.0)
