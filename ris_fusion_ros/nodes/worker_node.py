"""The lifecycle shell every processing node shares: one worker thread fed with the newest input,
subscriptions made on activate and dropped on deactivate, everything released on cleanup.

Subclasses create ``_subs``, ``_worker``, ``_wake`` (a Condition), ``_stop``, ``_pending`` and
``_camera_info``, ``_lock``, ``_bad`` (Counter) and ``_last_log`` in ``__init__`` and implement
``_process_item``, ``_release`` and ``_worker_name``.
"""

from __future__ import annotations

import threading
import time

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo

#: One warning per bad-input reason at most this often (the counters keep counting).
LOG_THROTTLE_SECONDS = 2.0


class WorkerLifecycleNode(LifecycleNode):
    """Lifecycle transitions and teardown shared by the fusion, detection and referring nodes."""

    def bad_input(self, reason: str, exc: Exception | str) -> None:
        """Count a rejected input under ``reason`` (``_bad``, a Counter, under ``_lock``) and log it,
        throttled per reason (rclpy's throttle is per call site, so one reason would hide others)."""
        now = time.monotonic()
        with self._lock:
            self._bad[reason] += 1
            count = self._bad[reason]
            quiet = now - self._last_log.get(reason, -1e9) < LOG_THROTTLE_SECONDS
            if not quiet:
                self._last_log[reason] = now
        if not quiet:
            self.get_logger().warning(f"bad input ({reason}, {count} so far): {exc}")

    def _release(self) -> None:
        """Free models, publishers and timers (on cleanup)."""
        raise NotImplementedError

    def _worker_name(self) -> str:
        return "worker"

    def _process_item(self, item: object) -> None:
        """Handle one input taken from ``_pending`` (must not raise: count problems instead)."""
        raise NotImplementedError

    def _start_worker(self) -> None:
        self._stop_worker()
        self._stop = False
        self._worker = threading.Thread(target=self._work, name=self._worker_name(), daemon=True)
        self._worker.start()

    def _work(self) -> None:
        """Wait for the newest pending input and process it; only the newest one ever waits."""
        while True:
            with self._wake:
                while self._pending is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                item, self._pending = self._pending, None
            self._process_item(item)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_subscriptions()
        self._stop_worker()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_subscriptions()
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self.on_cleanup(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.on_cleanup(state)
        return TransitionCallbackReturn.SUCCESS

    def stop_processing(self) -> None:
        """Drop the input subscriptions and stop the worker: nothing is published after this returns (the
        executables call it before the context shuts down)."""
        self._drop_subscriptions()
        self._stop_worker()

    def destroy_node(self) -> None:
        self.stop_processing()
        super().destroy_node()

    def _drop_subscriptions(self) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _stop_worker(self) -> None:
        with self._wake:
            self._stop = True
            self._pending = None
            self._wake.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=10.0)
        self._worker = None
