"""Start-up shared by every node executable: rclpy.init, autostart (configure + activate), spin, clean exit."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn

from .middleware import apply_dds_profile


def autostart(node: Any) -> bool:
    """configure + activate when the node's ``autostart`` parameter is true; log the reason of a failure."""
    if not node.get_parameter("autostart").value:
        node.get_logger().info("autostart is false: waiting for lifecycle transitions")
        return True
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        node.get_logger().error(f"autostart: {node.last_error}; staying unconfigured")
        return False
    if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
        node.get_logger().error("autostart: activate failed")
        return False
    node.get_logger().info("active")
    return True


def spin_nodes(build: Callable[[], Sequence[Any]], argv: Sequence[str] | None, *, threads: int | None = None,
               duration_s: float = 0.0) -> int:
    """Init rclpy, build the nodes, autostart them, spin until Ctrl-C (or ``duration_s``), tear down."""
    transport = apply_dds_profile()  # before rclpy.init
    rclpy.init(args=list(sys.argv if argv is None else argv))
    rclpy.logging.get_logger("ris_fusion_ros").info(transport)
    nodes: list[Any] = []
    executor = SingleThreadedExecutor() if threads == 1 else MultiThreadedExecutor(num_threads=threads)
    try:
        nodes = list(build())
        for node in nodes:
            executor.add_node(node)
        ok = all([autostart(node) for node in nodes])
        if duration_s > 0:
            stop = time.monotonic() + duration_s
            while rclpy.ok() and time.monotonic() < stop:
                executor.spin_once(timeout_sec=0.1)
        else:
            executor.spin()
        return 0 if ok else 1
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except Exception:
        if rclpy.ok():  # a real failure; one raised because Ctrl-C shut the context down mid-start is not
            raise
        return 0
    finally:
        executor.shutdown()
        for node in nodes:
            with contextlib.suppress(Exception):  # the context may already be gone after Ctrl-C
                node.destroy_node()
        rclpy.try_shutdown()


def run_single_node(node_class: Callable[[], Any], argv: Sequence[str] | None = None) -> int:
    """``main()`` of a one-node executable (the model runs in the node's own worker thread)."""
    return spin_nodes(lambda: [node_class()], argv, threads=1)
