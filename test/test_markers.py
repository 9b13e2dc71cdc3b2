"""RViz markers: the ROS-free marker data (pinhole placement, labels, colours) and its two conversions,
to rclpy messages (live nodes) and to rosbags messages (offline replay), which must carry the same fields."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.pipeline import markers as core
from ris_fusion_ros.core.pipeline.overlay import REFERRED_COLOR, class_color
from ris_fusion_ros.core.referring.types import ReferredSelection

from conftest import require_ros_module

SIZE = (64, 48)  # default intrinsics: fx = fy = 32, cx = 32, cy = 24


def chosen(detections, selected):
    """A selection over ``detections`` (its own instances, as the referrer returns them)."""
    return ReferredSelection(text="", mask=np.zeros((4, 4), np.uint8), detections=list(detections),
                             selected=list(selected))


def rgba(rgb):
    return (rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0, 1.0)


def test_box_corners_follow_the_pinhole_model_with_the_90_degree_default():
    det = Detection((16.0, 8.0, 48.0, 40.0), 0.9, 0, "person")
    data = core.detection_marker_data([det], SIZE, depth=5.0)
    assert [(m.type, m.action, m.id, m.ns) for m in data] == [
        (core.ARROW, core.DELETEALL, 0, "detections"), (core.LINE_STRIP, core.ADD, 0, "detections"),
        (core.TEXT_VIEW_FACING, core.ADD, 1, "detections")]
    box, label = data[1], data[2]
    # (u - 32) / 32 * 5, (v - 24) / 32 * 5 on the plane z = 5, closed strip
    assert box.points == ((-2.5, -2.5, 5.0), (2.5, -2.5, 5.0), (2.5, 2.5, 5.0), (-2.5, 2.5, 5.0), (-2.5, -2.5, 5.0))
    assert box.scale == pytest.approx((0.05, 0.0, 0.0)) and box.color == rgba(class_color(0))
    assert box.lifetime == (1, 0) and label.lifetime == (1, 0)
    assert label.position == (-2.5, -3.75, 5.0)  # above the top-left corner: v = max(0, 8 - 8)
    assert label.scale == pytest.approx((0.0, 0.0, 0.25)) and label.text == "person 0.90"


def test_camera_info_k_is_used_and_a_zero_k_falls_back_to_the_default():
    det = Detection((10.0, 20.0, 50.0, 70.0), 0.5, 2, "car")
    info = SimpleNamespace(k=[100.0, 0.0, 30.0, 0.0, 50.0, 20.0, 0.0, 0.0, 1.0])
    box = core.detection_marker_data([det], SIZE, camera_info=info, depth=2.0, lifetime_s=1.5)[1]
    expected = [(-0.4, 0.0, 2.0), (0.4, 0.0, 2.0), (0.4, 2.0, 2.0), (-0.4, 2.0, 2.0), (-0.4, 0.0, 2.0)]
    assert [c for p in box.points for c in p] == pytest.approx([c for p in expected for c in p])
    assert box.lifetime == (1, 500_000_000)
    zero = SimpleNamespace(k=[0.0] * 9)
    assert core.intrinsics(*SIZE, zero) == core.intrinsics(*SIZE) == (32.0, 32.0, 32.0, 24.0)


def test_referred_detections_get_the_referred_colour_a_wider_line_and_the_text():
    dets = [Detection((16.0, 8.0, 48.0, 40.0), 0.9, 0, "person"), Detection((0.0, 0.0, 8.0, 8.0), 0.75, 1, "car")]
    long_text = "the person " + "x" * 60
    data = core.detection_marker_data(dets, SIZE, selected=[0], text=long_text)
    assert [m.id for m in data] == [0, 0, 1, 2, 3]
    assert data[1].color == rgba(REFERRED_COLOR) and data[1].scale[0] == pytest.approx(0.1)
    assert data[2].text == f'person 0.90 <- "{long_text[:40]}"'
    assert data[3].color == rgba(class_color(1)) and data[4].text == "car 0.75"
    # the referring node's markers: the selection only, namespace "referred"
    referred = core.referred_marker_data(chosen(dets, [1]), SIZE, text="the car")
    assert [(m.ns, m.type) for m in referred] == [("referred", core.ARROW), ("referred", core.LINE_STRIP),
                                                  ("referred", core.TEXT_VIEW_FACING)]
    assert referred[1].points[0] == (-5.0, -3.75, 5.0) and referred[1].color == rgba(REFERRED_COLOR)
    assert referred[2].text == 'car 0.75 <- "the car"'
    assert [m.action for m in core.referred_marker_data(chosen(dets, []), SIZE, text="the bicycle")] == [core.DELETEALL]


def test_rclpy_and_rosbags_conversions_carry_the_same_fields():
    require_ros_module("rclpy")
    require_ros_module("visualization_msgs.msg")
    pytest.importorskip("rosbags")
    from builtin_interfaces.msg import Time
    from rclpy.serialization import deserialize_message, serialize_message
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker, MarkerArray

    from ris_fusion_ros.core.pipeline import bag
    from ris_fusion_ros.nodes.markers import detection_markers, referred_markers, to_marker_array

    assert (core.ARROW, core.LINE_STRIP, core.TEXT_VIEW_FACING) == (Marker.ARROW, Marker.LINE_STRIP,
                                                                    Marker.TEXT_VIEW_FACING)
    assert (core.ADD, core.DELETEALL) == (Marker.ADD, Marker.DELETEALL)
    dets = [Detection((16.0, 8.0, 48.0, 40.0), 0.9, 0, "person"), Detection((1.0, 2.0, 3.0, 4.0), 0.5, 2, "car")]
    info = SimpleNamespace(k=[100.0, 0.0, 30.0, 0.0, 50.0, 20.0, 0.0, 0.0, 1.0])
    data = core.detection_marker_data(dets, SIZE, camera_info=info, depth=2.0, selected=[1], text="the car")
    live = to_marker_array(data, Header(stamp=Time(sec=12, nanosec=34), frame_id="cam"))
    offline = bag.marker_array(data, 12 * 10**9 + 34, "cam")
    assert len(live.markers) == len(offline.markers) == 5
    for a, b in zip(live.markers, offline.markers, strict=True):
        assert (a.header.stamp.sec, a.header.stamp.nanosec, a.header.frame_id) == \
               (b.header.stamp.sec, b.header.stamp.nanosec, b.header.frame_id) == (12, 34, "cam")
        assert (a.ns, a.id, a.type, a.action, a.text) == (b.ns, b.id, b.type, b.action, b.text)
        assert [(p.x, p.y, p.z) for p in a.points] == [(p.x, p.y, p.z) for p in b.points]
        pa, pb = a.pose, b.pose
        assert (pa.position.x, pa.position.y, pa.position.z, pa.orientation.w) == \
               (pb.position.x, pb.position.y, pb.position.z, pb.orientation.w)
        assert (a.color.r, a.color.g, a.color.b, a.color.a) == (b.color.r, b.color.g, b.color.b, b.color.a)
        assert (a.scale.x, a.scale.y, a.scale.z) == (b.scale.x, b.scale.y, b.scale.z)
        assert (a.lifetime.sec, a.lifetime.nanosec) == (b.lifetime.sec, b.lifetime.nanosec)
    # every field, defaults included, after both went through CDR (colours are float32 on the wire)
    raw = bytes(bag.typestore().serialize_cdr(offline, "visualization_msgs/msg/MarkerArray"))
    assert deserialize_message(raw, MarkerArray) == deserialize_message(serialize_message(live), MarkerArray)
    # the nodes' entry points are these conversions of the core data
    header = Header(stamp=Time(sec=12, nanosec=34), frame_id="cam")
    assert detection_markers(dets, header, SIZE, camera_info=info, depth=2.0, selected=[1], text="the car") == live
    assert referred_markers(chosen(dets, [1]), header, SIZE, text="the car") == to_marker_array(
        core.referred_marker_data(chosen(dets, [1]), SIZE, text="the car"), header)
