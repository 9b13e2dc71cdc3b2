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
    assert values["fusion_method"] == "risfusenet" and values["detector"] == "yolox-nano"


def test_graph_starts_without_launch_from_the_yaml_and_stops_cleanly_on_sigint(tmp_path):
    """``ris_fusion_pipeline --params-file config/pipeline.yaml`` (fusion 'max' to stay fast): the three
    nodes reach active (their log says so) and Ctrl-C exits 0."""
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
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + out
    assert "Traceback" not in "".join(lines) + out
