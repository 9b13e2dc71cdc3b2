"""Declaring the nodes' parameter tables: a whole number given for a floating-point parameter is taken as
that float (rclpy alone would refuse it and the node would not start); other type mismatches name the parameter."""

from __future__ import annotations

import pytest

from conftest import require_ros_module

rclpy = require_ros_module("rclpy")

from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from ris_fusion_ros.nodes.common import ParameterError, ParamSpec, declare_parameters  # noqa: E402

SPECS = (ParamSpec("score_margin", -1.0, "weighing band", -1.0, 0.5),
         ParamSpec("homography", [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], "thermal to RGB"),
         ParamSpec("min_score", -1.0, "floor", -1.0, 1.0, read_only=True),
         ParamSpec("threads", 2, "threads", 1, 64))


def _node(ctx, **overrides) -> Node:
    return Node("params_under_test", context=ctx,
                parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


def test_whole_numbers_for_float_parameters_are_taken_as_floats_and_keep_their_descriptor():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = _node(ctx, score_margin=0, min_score=1, threads=3)
        declare_parameters(node, SPECS)
        margin, floor = node.get_parameter("score_margin").value, node.get_parameter("min_score").value
        assert (margin, floor) == (0.0, 1.0) and isinstance(margin, float) and isinstance(floor, float)
        assert node.get_parameter("threads").value == 3
        assert node.describe_parameter("min_score").read_only
        assert node.describe_parameter("score_margin").floating_point_range[0].to_value == 0.5
        node.destroy_node()
        node = _node(ctx, threads="many")
        with pytest.raises(ParameterError, match=r"parameter threads: got 'many' of type str, expected type int"):
            declare_parameters(node, SPECS)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_a_node_given_an_empty_list_in_its_params_file_stops_with_one_line_naming_the_parameter(tmp_path):
    import os
    import subprocess
    import sys

    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters:\n    homography: []\n")
    result = subprocess.run([sys.executable, "-m", "ris_fusion_ros.nodes.fusion_node", "--ros-args", "--params-file",
                             str(params)], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 2, result.stderr
    assert "cannot start: parameter homography: the overrides give it no value" in result.stderr
    assert "Traceback" not in result.stderr
