"""The colcon-built packages: ris_fusion_msgs interfaces and the installed ament_python package.

Run by the test command after tools/build_msgs.sh; under RIS_FUSION_REQUIRE_ROS=1 a missing
build fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, require_ros_module

EXPECTED_FIELDS = {
    "ReferringResult": {"header": "std_msgs/Header", "text": "string", "mask": "sensor_msgs/Image",
                        "instances": "sequence<ris_fusion_msgs/ReferredInstance>", "no_match": "boolean",
                        "score": "float"},
    "ReferredInstance": {"x_min": "float", "y_min": "float", "x_max": "float", "y_max": "float", "score": "float",
                         "class_id": "int32", "class_name": "string", "referring_score": "float"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FIELDS))
def test_message_fields_are_as_documented(name):
    msg_module = require_ros_module("ris_fusion_msgs.msg")
    assert getattr(msg_module, name).get_fields_and_field_types() == EXPECTED_FIELDS[name]


def test_every_message_field_is_documented_in_its_msg_file():
    for path in sorted((REPO / "msg").glob("*.msg")) + sorted((REPO / "srv").glob("*.srv")):
        documented = False  # a comment documents the fields that follow it up to the next blank line
        for line in path.read_text().splitlines():
            text = line.strip()
            if not text or text == "---":
                documented = False
            elif text.startswith("#"):
                documented = True
            else:
                assert documented or "#" in text, f"{path.name}: field '{text}' has no comment"


def test_referring_result_round_trips_through_cdr():
    msg_module = require_ros_module("ris_fusion_msgs.msg")
    serialization = require_ros_module("rclpy.serialization")
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 2:5] = 255
    result = msg_module.ReferringResult(text="the person next to the car", no_match=False, score=0.75)
    result.header.frame_id = "rgb_camera"
    result.header.stamp.sec, result.header.stamp.nanosec = 12, 345
    result.mask.height, result.mask.width, result.mask.encoding, result.mask.step = 4, 6, "mono8", 6
    result.mask.data = mask.tobytes()
    result.instances = [msg_module.ReferredInstance(x_min=2.0, y_min=1.0, x_max=5.0, y_max=3.0, score=0.9,
                                                    class_id=0, class_name="person", referring_score=0.8)]
    back = serialization.deserialize_message(serialization.serialize_message(result), msg_module.ReferringResult)
    assert back.text == result.text and back.header.frame_id == "rgb_camera" and back.header.stamp.nanosec == 345
    np.testing.assert_array_equal(np.frombuffer(bytes(back.mask.data), np.uint8).reshape(4, 6), mask)
    assert back.instances[0].class_name == "person" and back.instances[0].x_max == pytest.approx(5.0)


def test_set_referring_text_service_definition():
    srv_module = require_ros_module("ris_fusion_msgs.srv")
    service = srv_module.SetReferringText
    assert service.Request.get_fields_and_field_types() == {"text": "string"}
    assert service.Response.get_fields_and_field_types() == {
        "success": "boolean", "message": "string", "active_text": "string"}


def test_colcon_installed_package_runs_its_console_script():
    script = REPO / "install" / "ris_fusion_ros" / "lib" / "ris_fusion_ros" / "ris-fusion"
    if not script.exists():
        message = f"{script} missing: run tools/build_msgs.sh (colcon build)"
        if os.environ.get("RIS_FUSION_REQUIRE_ROS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    share = REPO / "install" / "ris_fusion_ros" / "share"
    assert (share / "ament_index" / "resource_index" / "packages" / "ris_fusion_ros").exists()
    assert (share / "ris_fusion_ros" / "package.xml").exists()
    site = next((REPO / "install" / "ris_fusion_ros" / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, str(script), "--version"], capture_output=True, text=True, env=env,
                         cwd=REPO / "build", check=True)
    assert re.fullmatch(r"ris-fusion \d+\.\d+\.\d+\n", out.stdout)
    where = subprocess.run([sys.executable, "-c", "import ris_fusion_ros; print(ris_fusion_ros.__file__)"],
                           capture_output=True, text=True, env=env, cwd=REPO / "build", check=True)
    assert str(site) in where.stdout, "the colcon-installed copy should be the one imported"
