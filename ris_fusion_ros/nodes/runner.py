"""Start-up shared by every node executable: rclpy.init, autostart (configure + activate), spin, clean exit.

Ctrl-C / SIGTERM are handled here, not by rclpy's own handler: that one shuts the context down at once,
while the nodes' worker threads may be publishing, and a publish racing the context's teardown can crash
the process (seen as SIGSEGV on Ctrl-C, rarely). Here a signal only asks the spin loop to stop; the
workers are stopped first, then the executor, the nodes and the context.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions

from .common import ParameterError
from .middleware import apply_dds_profile

SPIN_PERIOD_S = 0.1  # the spin loop's longest wait: how late a stop signal may be seen


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


def shutdown_executor(executor: Any, timeout_s: float = 2.0) -> None:
    """Let the handlers a multi-threaded executor already handed to its threads finish, then shut it down.

    rclpy (Jazzy) ``Executor.shutdown`` destroys its guard condition without waiting for them, and a handler
    that then finds its callback group busy triggers the destroyed guard: an ``InvalidHandle`` that is only
    printed at garbage collection ("The following exception was never retrieved: cannot use Destroyable").
    The spin loop must have stopped; a handler's own error is logged, not lost.
    """
    deadline = time.monotonic() + timeout_s
    for task in list(getattr(executor, "_futures", ())):  # MultiThreadedExecutor's handed-off handlers
        while not task.done() and time.monotonic() < deadline:
            time.sleep(0.005)
        error = task.exception() if task.done() else None
        if error is not None:
            rclpy.logging.get_logger("ris_fusion_ros").warning(f"a callback failed during shutdown: {error}")
    executor.shutdown()


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGINT and SIGTERM set ``stop`` (main thread only; elsewhere the caller stops the loop itself)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}


def spin_nodes(build: Callable[[], Sequence[Any]], argv: Sequence[str] | None, *, threads: int | None = None,
               duration_s: float = 0.0) -> int:
    """Init rclpy, build the nodes, autostart them, spin until Ctrl-C / SIGTERM (or ``duration_s``), tear down."""
    transport = apply_dds_profile()  # before rclpy.init
    rclpy.init(args=list(sys.argv if argv is None else argv), signal_handler_options=SignalHandlerOptions.NO)
    rclpy.logging.get_logger("ris_fusion_ros").info(transport)
    stop = threading.Event()
    previous = _stop_on_signals(stop)
    nodes: list[Any] = []
    executor = SingleThreadedExecutor() if threads == 1 else MultiThreadedExecutor(num_threads=threads)
    try:
        nodes = list(build())
        for node in nodes:
            executor.add_node(node)
        ok = all([autostart(node) for node in nodes])
        end = time.monotonic() + duration_s if duration_s > 0 else float("inf")
        while not stop.is_set() and rclpy.ok() and time.monotonic() < end:
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)  # returns at least this often to see a signal
        return 0 if ok else 1
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except ParameterError as exc:  # a bad override: one line that names it, not a traceback
        rclpy.logging.get_logger("ris_fusion_ros").error(f"cannot start: {exc}")
        return 2
    except Exception:
        if rclpy.ok():  # a real failure; one raised because the context went down mid-start is not
            raise
        return 0
    finally:
        for node in nodes:  # no worker may be publishing while the context goes down
            with contextlib.suppress(Exception):
                node.stop_processing()
        shutdown_executor(executor)
        for node in nodes:
            with contextlib.suppress(Exception):
                node.destroy_node()
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_single_node(node_class: Callable[[], Any], argv: Sequence[str] | None = None) -> int:
    """``main()`` of a one-node executable (the model runs in the node's own worker thread)."""
    return spin_nodes(lambda: [node_class()], argv, threads=1)
