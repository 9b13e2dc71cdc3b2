"""Launch files and config files, checked without launch (not installable here), and the same node graph
started without launch: ``ris_fusion_pipeline`` with ``config/pipeline.yaml`` in a subprocess."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO, require_ros_module

rclpy = require_ros_module("rclpy")
require_ros_module("ris_fusion_msgs.msg")

from ris_fusion_ros.core.pipeline.config import load_node_params, merged  # noqa: E402
from ris_fusion_ros.nodes.launch_support import SHORT, launch_arguments, node_params  # noqa: E402
from ris_fusion_ros.nodes.system import ALL_IN_ONE_EXECUTABLE, NODES  # noqa: E402

LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))


def _launch_ros_available() -> bool:
    try:
        import launch_ros  # noqa: F401

        import launch
    except ImportError:
        return False
    return hasattr(launch, "LaunchDescription")


def test_every_launch_file_parses_and_defines_generate_launch_description():
    assert {p.name for p in LAUNCH_FILES} >= {"fusion.launch.py", "detection.launch.py", "referring.launch.py",
                                              "pipeline.launch.py", "pipeline_all_in_one.launch.py"}
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body), path


@pytest.mark.skipif(not _launch_ros_available(), reason="launch/launch_ros are not installable from PyPI or Debian; "
                    "runs only on a full ROS 2 Jazzy install")
@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_description_builds(path):
    from launch import LaunchDescription

    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.generate_launch_description(), LaunchDescription)


def test_every_node_has_a_console_script_and_every_parameter_is_a_launch_argument_and_in_its_yaml():
    setup = (REPO / "setup.py").read_text()
    for executable in [s.executable for s in NODES] + [ALL_IN_ONE_EXECUTABLE]:
        assert re.search(rf'"{executable} = ris_fusion_ros\.nodes\.\w+:main"', setup), executable
    pipeline = yaml.safe_load((REPO / "config" / "pipeline.yaml").read_text())
    for spec in NODES:
        params = node_params(spec)
        args = launch_arguments(spec, f"{SHORT[spec.name]}.")
        assert [a for a, _, _ in args] == [f"{SHORT[spec.name]}.{p.name}" for p in params]
        assert all(p.description for p in params)
        for section in (yaml.safe_load((REPO / "config" / spec.config).read_text())["/**"],
                        pipeline[f"/**/{spec.name}"]):
            values = section["ros__parameters"]
            assert set(values) == {p.name for p in params}, spec.name
            for p in params:
                assert values[p.name] == p.default and type(values[p.name]) is type(p.default), (spec.name, p.name)


def test_replay_reads_the_nodes_pipeline_yaml():
    values = merged(load_node_params(REPO / "config" / "pipeline.yaml"))
    assert values["fusion_method"] == "risfusenet" and values["detector"] == "yolox-nano-msrs"


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_graph_starts_without_launch_from_the_yaml_and_stops_cleanly_on_a_signal(tmp_path, stop_signal):
    """``ris_fusion_pipeline --params-file config/pipeline.yaml`` (fusion 'max' to stay fast): the three
    nodes reach active (their log says so) and Ctrl-C (or ros2 launch's SIGTERM) exits 0."""
    params = yaml.safe_load((REPO / "config" / "pipeline.yaml").read_text())
    params["/**/fusion_node"]["ros__parameters"]["fusion_method"] = "max"
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(params))
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ris_fusion_ros.nodes.pipeline_main", "--ros-args",
                             "--params-file", str(path), "-r", f"__ns:=/launchless{os.getpid()}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and sum("]: active" in line for line in lines) < 3:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert sum("]: active" in line for line in lines) == 3, "".join(lines)
        proc.send_signal(stop_signal)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + out
    assert "Traceback" not in "".join(lines) + out


def _node_topics() -> set[str]:
    from ris_fusion_ros.nodes import detection_node, frame_node, fusion_node, referring_node

    names = {fusion_node.FUSED_TOPIC, fusion_node.FUSED_INFO_TOPIC, detection_node.OVERLAY_TOPIC,
             detection_node.MARKERS_TOPIC, detection_node.DETECTIONS_TOPIC, referring_node.MASK_TOPIC,
             referring_node.RESULT_TOPIC, referring_node.OVERLAY_TOPIC, referring_node.MARKERS_TOPIC,
             referring_node.TEXT_TOPIC, frame_node.DIAGNOSTICS_TOPIC.lstrip("/"),
             f"{referring_node.NODE_NAME}/active_text"}
    return {"/" + n for n in names}


def test_foxglove_layout_publishes_text_and_shows_the_node_topics():
    import json

    layout = json.loads((REPO / "foxglove" / "ris_fusion_layout.json").read_text())
    panels = layout["configById"]
    publish = [c for k, c in panels.items() if k.startswith("Publish!")]
    assert publish and publish[0]["topicName"] == "/referring_text" and publish[0]["datatype"] == "std_msgs/msg/String"
    images = {c["imageMode"]["imageTopic"] for k, c in panels.items() if k.startswith("Image!")}
    assert images >= {"/fused/image", "/referring/overlay", "/detections/overlay", "/referring/mask"}
    assert images <= _node_topics()
    placed = json.dumps(layout["layout"])
    assert all(key in placed for key in panels), "a configured panel is not placed in the layout"


def test_rviz_config_shows_images_and_marker_arrays_of_the_nodes():
    config = yaml.safe_load((REPO / "rviz" / "ris_fusion.rviz").read_text())
    displays = config["Visualization Manager"]["Displays"]
    by_class: dict[str, set[str]] = {}
    for display in displays:
        by_class.setdefault(display["Class"], set()).add(display["Topic"]["Value"])
    assert by_class["rviz_default_plugins/Image"] >= {"/fused/image", "/referring/overlay", "/detections/overlay"}
    assert by_class["rviz_default_plugins/MarkerArray"] == {"/detections/markers", "/referring/markers"}
    assert set().union(*by_class.values()) <= _node_topics()


def test_rqt_plugin_xml_names_the_plugin_class():
    import xml.etree.ElementTree as ET

    cls = ET.parse(REPO / "plugin.xml").getroot().find("class")
    module, _, name = cls.get("type").rpartition(".")
    assert (REPO / (module.replace(".", "/") + ".py")).is_file()
    assert f"class {name}(Plugin)" in (REPO / (module.replace(".", "/") + ".py")).read_text()
    assert 'plugin="${prefix}/plugin.xml"' in (REPO / "package.xml").read_text()
