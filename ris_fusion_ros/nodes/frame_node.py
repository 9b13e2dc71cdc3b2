"""A lifecycle node that processes the newest ``fused/image`` in a worker thread: the shared shell of
``detection_node`` and ``referring_node`` (subscriptions, QoS reports, bad-input counting, diagnostics).

Subclasses provide ``_load`` (models, at configure), ``_make_publishers`` and ``_process`` (one frame);
everything the frame needs from the model is a call into :mod:`ris_fusion_ros.core.pipeline`.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, Image

from ..core.detection.types import DEFAULT_DETECTOR
from ..core.errors import RisFusionError
from ..core.fusion import RuntimeOptions
from ..core.io.image_codec import message_to_array, to_rgb8
from ..core.io.sync import header_stamp_ns
from ..core.pipeline.config import operating_point_config
from ..core.pipeline.stages import RGB_ENCODINGS, DetectionStage, StageError
from ..core.referring.operating_point import AUTO, AUTO_SCORE
from .common import (
    LatencyTracker,
    ParamSpec,
    QosIncidents,
    declare_parameters,
    diagnostic_status,
    overriding_options,
    parameter_values,
    reliable_qos,
    sensor_qos,
)
from .worker_node import WorkerLifecycleNode

FUSED_TOPIC = "fused/image"
FUSED_INFO_TOPIC = "fused/camera_info"
DIAGNOSTICS_TOPIC = "/diagnostics"

DETECTOR_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("detector", DEFAULT_DETECTOR, f"detector: {DEFAULT_DETECTOR} (the default: YOLOX-Nano fine-tuned on "
              "fused MSRS frames, ships with the package, Apache-2.0), yolox-nano (the COCO original, Apache-2.0), "
              "yolov5n, yolov5n-seg (AGPL weights, loaded from the shared folder) or a path to a .onnx file; several "
              "joined by + run as one ensemble (a.onnx+b.onnx: their boxes fused by weighted box fusion, one run "
              "per member)",
              read_only=True),
    ParamSpec("backend", "onnxruntime", "inference backend of the detector", read_only=True,
              constraints="onnxruntime, torch or tensorrt"),
    ParamSpec("device", "cpu", "device of the detector (cpu, cuda, cuda:N)", read_only=True),
    ParamSpec("threads", 2, "CPU threads of the backend (0 = runtime default)", 0, 256, read_only=True),
    ParamSpec("imgsz", 0, "detector letterbox size, a multiple of 32 (larger finds smaller objects, costs more); 0 = "
              "the model's own: the size in its ONNX metadata, else 640; fixed-size models keep theirs", 0, 4096,
              read_only=True),
    ParamSpec("min_score", AUTO_SCORE, "detections below this confidence are dropped (published and referred); -1 = "
              "the detector's operating point (yolox-nano-msrs: 0.35, chosen out of fold; other detectors: 0.25)",
              AUTO_SCORE, 1.0, read_only=True),
    ParamSpec("second_look_score", AUTO_SCORE, "referring: a text naming a category that matched none of the "
              "detections >= min_score is matched again down to this confidence (published detections stay >= "
              "min_score); >= min_score = off; -1 = the detector's operating point (yolox-nano-msrs: off; other "
              "detectors: 0.15)", AUTO_SCORE, 1.0, read_only=True),
    ParamSpec("score_margin", AUTO_SCORE, "referring: detections of the text's classes scoring within min_score +- "
              "this are weighed as uncertain (each real with a probability rising across the band) and the answer "
              "most probable over them wins; 0 = a hard floor at min_score; -1 = the detector's operating point "
              "(yolox-nano-msrs: 0.2, chosen out of fold; other detectors: 0)",
              AUTO_SCORE, 0.5, read_only=True),
    ParamSpec("thermal_stream", AUTO, "referring: also run the detector on fused/thermal and merge the people it "
              "finds into the referring instances (weighted box fusion; both frames in one batched run) while a text "
              "is active; needs use_thermal; auto = the detector's operating point (yolox-nano-msrs: on; other "
              "detectors: off), or on / off (true / false)", read_only=True, dynamic=True),
)
COMMON_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("publish_overlay", True, "publish the overlay image (costs a copy and drawing per frame)"),
    ParamSpec("publish_markers", True, "publish a visualization_msgs/MarkerArray for RViz"),
    ParamSpec("marker_depth_meters", 5.0, "markers: distance of the image plane in front of the camera (m)",
              0.1, 1000.0),
    ParamSpec("diagnostics_period_seconds", 1.0, "period of /diagnostics (s)", 0.05, 60.0, read_only=True),
    ParamSpec("autostart", True, "main(): configure and activate at start-up", read_only=True),
)


def create_detection(values: dict[str, Any]) -> DetectionStage:
    runtime = RuntimeOptions(values["backend"], values["device"], "fp32", values["threads"])
    point = operating_point_config(values)
    return DetectionStage.create(values["detector"], runtime, point.min_score, point.candidate_floor(),
                                 point.thermal_stream, values["imgsz"])


class SharedDetection:
    """One detection stage for several nodes of one process (the all-in-one executable): loaded by the
    first node that configures (its detector parameters win), freed when the last one cleans up."""

    def __init__(self, stage: DetectionStage | None = None) -> None:
        """``stage``: use this already built stage (tests, or an application with its own detector)."""
        self._lock = threading.Lock()
        self._stage: DetectionStage | None = stage
        self._users = 0

    def acquire(self, values: dict[str, Any]) -> DetectionStage:
        with self._lock:
            if self._stage is None:
                self._stage = create_detection(values)
            self._users += 1
            return self._stage

    def release(self) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users == 0 and self._stage is not None:
                self._stage.close()
                self._stage = None


class FrameStageNode(WorkerLifecycleNode):
    """Newest-frame worker over ``fused/image``; see the module docstring."""

    PARAMS: tuple[ParamSpec, ...] = DETECTOR_PARAMS + COMMON_PARAMS
    STAGE_NAME = "frame"

    def __init__(self, node_name: str, *, shared_detection: SharedDetection | None = None, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self, self.PARAMS)
        self.qos_incidents = QosIncidents(self)
        self.latency = LatencyTracker()
        self.last_error = ""
        self._shared_detection = shared_detection  # all-in-one: one model and one result per frame for two nodes
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: Image | None = None
        self._stop = True
        self._worker: threading.Thread | None = None
        self._subs: list[Any] = []
        self._diag_pub = None
        self._diag_timer = None
        self._outputs: list[Any] = []
        self.detection: DetectionStage | None = None
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._bad: Counter[str] = Counter()
        self._bad_reported: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._stale = 0
        self._processed = 0
        self._last_stamp: int | None = None
        self._camera_info: CameraInfo | None = None
        self._backend_info = ""

    # ----------------------------------------------------------------- subclass hooks
    def _load(self, values: dict[str, Any]) -> None:
        """Load models (may raise: the reason fails the configure transition)."""

    def _make_publishers(self) -> None:
        """Create the output publishers (append them to ``self._outputs``)."""

    def _process(self, msg: Image, rgb: Any, stamp_ns: int) -> None:
        """Process one decoded frame (raise StageError for a frame-level problem)."""

    def _extra_diagnostics(self) -> list[tuple[str, Any]]:
        return []

    def _extra_subscriptions(self) -> list[Any]:
        """Subscriptions created at activate next to ``fused/image``."""
        return []

    def _unload(self) -> None:
        """Release what ``_load`` created."""

    # ----------------------------------------------------------------- helpers for subclasses
    def load_detection(self, values: dict[str, Any]) -> DetectionStage:
        if self._shared_detection is not None:
            return self._shared_detection.acquire(values)
        return create_detection(values)

    def release_detection(self) -> None:
        if self.detection is not None:
            if self._shared_detection is not None:
                self._shared_detection.release()
            else:
                self.detection.close()
        self.detection = None

    def lifecycle_pub(self, msg_type: Any, topic: str, depth: int = 5) -> Any:
        pub = self.create_lifecycle_publisher(msg_type, topic, reliable_qos(depth),
                                              event_callbacks=self.qos_incidents.publisher_callbacks(topic),
                                              qos_overriding_options=overriding_options())
        self._outputs.append(pub)
        return pub

    @property
    def camera_info(self) -> CameraInfo | None:
        return self._camera_info

    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    # ----------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            values = parameter_values(self, self.PARAMS)
            self._load(values)
        except Exception as exc:  # every reason must reach the caller, including runtime import errors
            kind = "configuration" if isinstance(exc, RisFusionError) else type(exc).__name__
            self.last_error = f"configure failed ({kind}): {exc}"
            self.get_logger().error(self.last_error)
            self._release()
            return TransitionCallbackReturn.FAILURE
        self._make_publishers()
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, reliable_qos(10))
        self._diag_timer = self.create_timer(values["diagnostics_period_seconds"], self.publish_diagnostics)
        self.last_error = ""
        self.get_logger().info(f"configured: {self._backend_info or 'no model'}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._subs = [
            self.create_subscription(Image, FUSED_TOPIC, self._on_image, sensor_qos(),
                                     event_callbacks=self.qos_incidents.subscription_callbacks(FUSED_TOPIC),
                                     qos_overriding_options=overriding_options()),
            self.create_subscription(CameraInfo, FUSED_INFO_TOPIC, self._on_camera_info, sensor_qos()),
            *self._extra_subscriptions(),
        ]
        self._start_worker()
        return super().on_activate(state)

    def _release(self) -> None:
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        for pub in [*self._outputs, self._diag_pub]:
            if pub is not None:
                self.destroy_publisher(pub)
        self._outputs, self._diag_pub, self._diag_timer = [], None, None
        self._unload()
        self._reset_counters()

    # ----------------------------------------------------------------- input and worker
    def _on_image(self, msg: Image) -> None:
        with self._wake:
            self._stale += self._pending is not None  # only the newest frame waits for the worker
            self._pending = msg
            self._wake.notify()

    def _worker_name(self) -> str:
        return f"{self.STAGE_NAME}_worker"

    def _process_item(self, item: object) -> None:
        try:
            self._handle(item)
        except StageError as exc:
            self.bad_input(exc.reason, exc)
        except Exception as exc:  # never let one frame kill the worker
            self.bad_input("processing_error", f"{type(exc).__name__}: {exc}")

    def _handle(self, msg: Image) -> None:
        if msg.encoding not in RGB_ENCODINGS:
            raise StageError("image_encoding", f"{FUSED_TOPIC} encoding {msg.encoding!r} is not one of {RGB_ENCODINGS}")
        try:
            stamp = header_stamp_ns(msg)
            rgb = to_rgb8(message_to_array(msg), msg.encoding)
        except RisFusionError as exc:
            raise StageError("image_data", str(exc)) from exc
        if self._last_stamp is not None and stamp < self._last_stamp:
            raise StageError("stamp_backwards", f"{FUSED_TOPIC} stamp went back by "
                             f"{(self._last_stamp - stamp) / 1e9:.3f} s; frame dropped (a restarted bag or clock?)")
        self._last_stamp = stamp
        self._process(msg, rgb, stamp)
        self.latency.record(stamp, self.get_clock().now().nanoseconds)
        with self._lock:
            self._processed += 1

    # ----------------------------------------------------------------- diagnostics
    def publish_diagnostics(self) -> None:
        diag_pub = self._diag_pub
        if diag_pub is None:
            return
        with self._lock:
            bad = dict(self._bad)
            new_bad = {k: v - self._bad_reported[k] for k, v in bad.items() if v > self._bad_reported[k]}
            self._bad_reported = Counter(bad)
            stale, processed = self._stale, self._processed
        values: list[tuple[str, Any]] = list(self.latency.snapshot().items())
        values += [("frames", processed), ("stale_frames_dropped", stale)]
        values += self._extra_diagnostics()
        values += [(f"bad_input.{reason}", count) for reason, count in sorted(bad.items())]
        values += [("bad_input_total", sum(bad.values())), ("incompatible_qos", self.qos_incidents.total),
                   ("backend", self._backend_info), ("active", bool(self._subs))]
        if new_bad:
            level, message = DiagnosticStatus.WARN, "bad input: " + ", ".join(f"{k} x{v}" for k, v in new_bad.items())
        elif self.qos_incidents.total:
            level, message = DiagnosticStatus.WARN, "incompatible QoS (see the log for the fix)"
        else:
            level, message = DiagnosticStatus.OK, "running" if self._subs else "inactive"
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        name = f"{self.get_fully_qualified_name()}: {self.STAGE_NAME}"
        array.status = [diagnostic_status(name, "ris_fusion", level, message, values)]
        diag_pub.publish(array)
