"""The node graph as plain data: one place that the launch files, the all-in-one executable and the
tests read, so "the same graph can be started without launch" is literally the same list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NodeSpec:
    """One node of the pipeline: ROS executable, default node name, Python class and parameter file."""

    executable: str
    name: str
    cls: str  # "module:Class"
    config: str  # file under config/
    remappings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    parameters: dict[str, Any] = field(default_factory=dict)


PACKAGE = "ris_fusion_ros"
NODES: tuple[NodeSpec, ...] = (
    NodeSpec("fusion_node", "fusion_node", "ris_fusion_ros.nodes.fusion_node:FusionNode", "fusion.yaml"),
    NodeSpec("detection_node", "detection_node", "ris_fusion_ros.nodes.detection_node:DetectionNode",
             "detection.yaml"),
    NodeSpec("referring_segmentation_node", "referring_segmentation_node",
             "ris_fusion_ros.nodes.referring_node:ReferringNode", "referring.yaml"),
)
ALL_IN_ONE_EXECUTABLE = "ris_fusion_pipeline"


def node_spec(name: str) -> NodeSpec:
    for spec in NODES:
        if name in (spec.name, spec.executable):
            return spec
    raise KeyError(f"no node {name!r}; known: {', '.join(s.name for s in NODES)}")
