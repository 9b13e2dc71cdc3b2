"""Live benchmark with real rclpy: 30 Hz thermal (mono16) + RGB (rgb8) published into the graph, the
nodes in a separate process (``ris_fusion_pipeline``), rates and latencies measured at the receiver.

Latency "source -> receive" is the receive time minus the source stamp (the stamp is the publish
time of the camera message), so it includes pairing, fusion, detection/referring and two transports.
The nodes' own "source -> publish" p50/p99 are read from their ``/diagnostics``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LiveResult:
    mode: str
    seconds: float
    published_pairs: int
    received: dict[str, int] = field(default_factory=dict)
    rate_hz: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    node_diagnostics: dict[str, dict[str, str]] = field(default_factory=dict)
    exit_code: int | None = None
    transport: str = ""


def _pct(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    p50, p99 = np.percentile(values, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "n": len(values)}


def run_live(pairs: list[tuple[np.ndarray, np.ndarray]], mode: str, seconds: float = 20.0, warmup: float = 4.0,
             rate_hz: float = 30.0, fusion_method: str = "risfusenet", extra_ros_args: list[str] | None = None,
             text: str = "the person") -> LiveResult:
    """``mode``: "fusion" (fusion_node only) or "full" (fusion + detection + referring in one process)."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from ..core.io.image_codec import array_to_image_fields
    from .middleware import apply_dds_profile

    transport = apply_dds_profile()  # this process is the camera; the node process inherits the choice
    ns = f"/bench{uuid.uuid4().hex[:6]}"
    flags = ["--no-detection", "--no-referring"] if mode == "fusion" else []
    cmd = [sys.executable, "-m", "ris_fusion_ros.nodes.pipeline_main", "--duration", str(seconds + warmup + 8), *flags,
           "--ros-args", "-r", f"__ns:={ns}", "-p", f"fusion_method:={fusion_method}",
           "-p", "thermal_normalization:=percentile", *(extra_ros_args or [])]
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = Node("bench_live", namespace=ns)
    reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    thermal_pub = node.create_publisher(Image, "thermal/image_raw", reliable)
    rgb_pub = node.create_publisher(Image, "rgb/image_raw", reliable)
    text_pub = node.create_publisher(String, "referring_text", reliable)
    msgs = [(Image(**array_to_image_fields((ir.astype(np.uint16) * 100 + 7000), "mono16")),
             Image(**array_to_image_fields(vis, "rgb8"))) for ir, vis in pairs]
    for thermal, rgb in msgs:
        thermal.header.frame_id, rgb.header.frame_id = "thermal_optical", "rgb_optical"
    lock = threading.Lock()
    record = {"measure": False}
    latencies: dict[str, list[float]] = {"fused": [], "detections": [], "referring": []}
    arrivals: dict[str, list[float]] = {k: [] for k in latencies}
    diagnostics: dict[str, dict[str, str]] = {}

    def on_output(key: str):
        def callback(msg: Any) -> None:
            now = node.get_clock().now().nanoseconds
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            with lock:
                if record["measure"]:
                    latencies[key].append((now - stamp) / 1e6)
                    arrivals[key].append(time.monotonic())
        return callback

    sensor = reliable  # a reliable subscriber gets every frame the node publishes (best effort drops big images)
    node.create_subscription(Image, "fused/image", on_output("fused"), sensor)
    try:
        from vision_msgs.msg import Detection2DArray

        node.create_subscription(Detection2DArray, "detections", on_output("detections"), sensor)
    except ImportError:
        pass
    try:
        from ris_fusion_msgs.msg import ReferringResult

        node.create_subscription(ReferringResult, "referring/result", on_output("referring"), sensor)
    except ImportError:
        pass

    def on_diag(msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith(ns + "/"):
                diagnostics[status.name] = {kv.key: kv.value for kv in status.values}

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, reliable)
    published = {"n": 0}

    def publish() -> None:
        thermal, rgb = msgs[published["n"] % len(msgs)]
        stamp = node.get_clock().now().to_msg()
        thermal.header.stamp = stamp
        rgb.header.stamp = stamp
        thermal_pub.publish(thermal)
        rgb_pub.publish(rgb)
        published["n"] += 1

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        deadline = time.monotonic() + 60
        while rgb_pub.get_subscription_count() < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        if mode == "full":
            while text_pub.get_subscription_count() < 1 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            text_pub.publish(String(data=text))
        period = 1.0 / rate_hz
        start = time.monotonic()
        next_t = start
        measure_from = start + warmup
        end = measure_from + seconds
        while time.monotonic() < end and proc.poll() is None:
            now = time.monotonic()
            if now >= measure_from and not record["measure"]:
                with lock:
                    record["measure"] = True
                    published["measured_from"] = published["n"]
            if now >= next_t:
                publish()
                next_t += period
            time.sleep(max(0.0, min(next_t, end) - time.monotonic()))
        with lock:
            record["measure"] = False
        time.sleep(1.5)  # let the last /diagnostics arrive
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    result = LiveResult(mode, seconds, published["n"] - published.get("measured_from", 0), exit_code=proc.returncode,
                        transport=transport)
    for key, values in latencies.items():
        if values or key == "fused":
            result.received[key] = len(values)
            times = arrivals[key]
            result.rate_hz[key] = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
            result.latency_ms[key] = _pct(values)
    result.node_diagnostics = {name: {k: v for k, v in d.items() if k in (
        "rate_hz", "latency_p50_ms", "latency_p99_ms", "pairs", "fused", "frames", "stale_pairs_dropped",
        "stale_frames_dropped", "thermal_unmatched", "rgb_unmatched", "backend")} for name, d in diagnostics.items()}
    return result
