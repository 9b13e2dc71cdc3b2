"""The executables' shutdown with real rclpy: handlers a multi-threaded executor handed to its threads
finish before the executor goes down (rclpy's own shutdown does not wait for them)."""

from __future__ import annotations

import threading
import time

from conftest import require_ros_module

rclpy = require_ros_module("rclpy")

from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from test_nodes_detection_referring import ctx  # noqa: E402, F401  (fixture)

from ris_fusion_ros.nodes.runner import shutdown_executor  # noqa: E402


def test_shutdown_executor_lets_handed_off_handlers_finish(ctx):  # noqa: F811
    node = Node("slow_timer", context=ctx)
    started = threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.3)

    node.create_timer(0.01, slow)  # the default callback group is mutually exclusive
    executor = MultiThreadedExecutor(num_threads=2, context=ctx)
    executor.add_node(node)
    try:
        end = time.monotonic() + 5.0
        while not started.is_set() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(3):  # more handlers handed off while the group is busy
            executor.spin_once(timeout_sec=0.05)
        pending = list(executor._futures)
        assert started.is_set() and pending and not all(t.done() for t in pending)
        shutdown_executor(executor)
        assert all(t.done() for t in pending)
        assert [t.exception() for t in pending] == [None] * len(pending)
    finally:
        node.destroy_node()
