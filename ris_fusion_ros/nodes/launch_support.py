"""What the launch files are made of, importable without launch: the node list (``system.NODES``),
the parameter tables, and one function per launch file shape.

Every parameter of a node is a launch argument of the same name (in pipeline launch files prefixed
with the node's short name: ``fusion.backend``, ``detection.min_score`` ...), with the parameter's
description. An argument left at its default ``''`` is not passed, so the value comes from
``params_file`` (default ``config/<node>.yaml``) or the node's own default; an argument that is set
wins over the file. ``launch``/``launch_ros`` are imported only inside the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

import yaml

from .middleware import config_path
from .system import ALL_IN_ONE_EXECUTABLE, NODES, PACKAGE, NodeSpec, node_spec

SHORT = {"fusion_node": "fusion", "detection_node": "detection", "referring_segmentation_node": "referring"}


def node_params(spec: NodeSpec) -> tuple[Any, ...]:
    """The ParamSpec table of a node (imports the node module, so rclpy)."""
    module_name, class_name = spec.cls.split(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    return tuple(getattr(cls, "PARAMS", None) or module.PARAMS)


def launch_arguments(spec: NodeSpec, prefix: str = "") -> list[tuple[str, str, str]]:
    """(argument name, parameter name, description) for every parameter of the node."""
    return [(f"{prefix}{p.name}", p.name, f"{p.description} (default {p.default!r})") for p in node_params(spec)]


def _parse(value: str) -> Any:
    return yaml.safe_load(value)


def node_launch_description(names: list[str], prefixed: bool) -> Any:
    """A LaunchDescription starting the named nodes, each its own process."""
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from launch import LaunchDescription

    actions: list[Any] = [DeclareLaunchArgument("namespace", default_value="", description="namespace of the nodes")]
    tables: dict[str, list[tuple[str, str, str]]] = {}
    for name in names:
        spec = node_spec(name)
        prefix = f"{SHORT[spec.name]}." if prefixed else ""
        tables[spec.name] = launch_arguments(spec, prefix)
        actions.append(DeclareLaunchArgument(f"{prefix}params_file", default_value=str(config_path(spec.config)),
                                             description=f"parameter YAML of {spec.name}"))
        actions += [DeclareLaunchArgument(arg, default_value="", description=desc)
                    for arg, _, desc in tables[spec.name]]

    def start(context: Any) -> list[Any]:
        nodes = []
        for name in names:
            spec = node_spec(name)
            prefix = f"{SHORT[spec.name]}." if prefixed else ""
            overrides = {param: _parse(LaunchConfiguration(arg).perform(context))
                         for arg, param, _ in tables[spec.name] if LaunchConfiguration(arg).perform(context) != ""}
            nodes.append(Node(package=PACKAGE, executable=spec.executable, name=spec.name,
                              namespace=LaunchConfiguration("namespace").perform(context), output="screen",
                              parameters=[LaunchConfiguration(f"{prefix}params_file").perform(context), overrides],
                              remappings=list(spec.remappings)))
        return nodes

    return LaunchDescription([*actions, OpaqueFunction(function=start)])


def all_in_one_launch_description() -> Any:
    """One process with the three nodes (``ris_fusion_pipeline``), configured by config/pipeline.yaml."""
    from launch.actions import DeclareLaunchArgument
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from launch import LaunchDescription

    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value=""),
        DeclareLaunchArgument("params_file", default_value=str(config_path("pipeline.yaml")),
                              description="one YAML with a section per node (config/pipeline.yaml)"),
        DeclareLaunchArgument("threads", default_value="4", description="executor threads"),
        Node(package=PACKAGE, executable=ALL_IN_ONE_EXECUTABLE, name="ris_fusion_pipeline", output="screen",
             namespace=LaunchConfiguration("namespace"), arguments=["--threads", LaunchConfiguration("threads")],
             parameters=[LaunchConfiguration("params_file")]),
    ])


__all__ = ["NODES", "all_in_one_launch_description", "launch_arguments", "node_launch_description", "node_params"]
