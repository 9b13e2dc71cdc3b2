"""``ris_fusion_pipeline``: fusion, detection and referring nodes in one process (MultiThreadedExecutor).

For low-latency single-machine use: the three nodes are the same classes as the separate
executables (so topics, parameters, services and diagnostics are identical and a YAML for one
works for the other), but the detection model is loaded once and shared by detection_node and
referring_segmentation_node, which reuse one result per frame (keyed by stamp and frame_id).
Messages between the nodes still go through rclpy (intra-process), so remapping works as usual.

``--ros-args --params-file config/pipeline.yaml`` configures all three (sections per node name or
``/**``); ``--duration S`` stops after S seconds (tests, benchmarks); ``--no-detection`` /
``--no-referring`` run fewer nodes (fusion only, e.g. where no detector is installed).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from rclpy.utilities import remove_ros_args

from .frame_node import FrameStageNode, SharedDetection
from .runner import spin_nodes
from .system import NODES


def _class(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def build_nodes(names: Sequence[str], **node_kwargs: Any) -> list[Any]:
    """Instantiate the named nodes in ``system.NODES`` order; detection and referring share one detector."""
    shared = SharedDetection()
    nodes = []
    for spec in NODES:
        if spec.name in names:
            cls = _class(spec.cls)
            extra = {"shared_detection": shared} if issubclass(cls, FrameStageNode) else {}
            nodes.append(cls(**node_kwargs, **extra))
    return nodes


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(prog="ris_fusion_pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=0.0,
                        help="stop after this many seconds (0: run until Ctrl-C)")
    parser.add_argument("--threads", type=int, default=4, help="executor threads (default 4)")
    parser.add_argument("--no-detection", action="store_true", help="do not start detection_node")
    parser.add_argument("--no-referring", action="store_true", help="do not start referring_segmentation_node")
    opts = parser.parse_args(remove_ros_args(argv)[1:])
    names = [spec.name for spec in NODES
             if not (opts.no_detection and spec.name == "detection_node")
             and not (opts.no_referring and spec.name == "referring_segmentation_node")]
    return spin_nodes(lambda: build_nodes(names), argv, threads=opts.threads, duration_s=opts.duration)


if __name__ == "__main__":
    sys.exit(main())
