"""``fusion_node``: thermal + RGB images in, one fused RGB image out (a thin lifecycle node).

Topics (relative, remappable):

* in  ``thermal/image_raw`` (mono8, mono16, 16UC1, 32FC1), ``rgb/image_raw`` (rgb8, bgr8, rgba8,
  bgra8, mono8): sensor-data QoS (best effort, keep last 5) with QoS override parameters;
  ``rgb/camera_info`` (optional): sensor-data QoS.
* out ``fused/image`` (rgb8, the RGB image's stamp and frame_id), ``fused/thermal`` (mono8: the
  normalised thermal registered to the RGB frame, same header; the referring node reads thermal
  attributes from it), ``fused/camera_info`` (the latest
  ``rgb/camera_info`` with the fused header; nothing before one arrives): reliable, keep last 5;
  ``/diagnostics`` (about once per ``diagnostics_period_seconds``).
* in ``fusion_edit_text`` (``std_msgs/String``, reliable, depth 10): text-commanded edits ("brighten the
  person and denoise the background", "undo", "reset"; :mod:`ris_fusion_ros.core.pipeline.edit`);
  ``detections`` (``vision_msgs/Detection2DArray``, sensor-data QoS): the detection node's latest objects,
  over which edit targets are referred (so edits naming objects, or "background", need detection_node
  running; "everything" does not). Fusion runs before detection: a frame is edited with the detections
  of an earlier frame.
* out ``~/edit_status`` (``std_msgs/String``, reliable + transient local, depth 10): the reply to every
  edit command with the active edits; late joiners get the last replies.
* in (only with ``feedback_strength`` > 0) ``referring/mask`` (mono8, reliable): the latest referred mask
  becomes the fusion control map of the next frames (:mod:`ris_fusion_ros.core.feedback`; risfusenet).

Lifecycle: configure = check parameters, load the registration and the fusion model (a failure
fails the transition and logs the reason); activate = subscriptions + fusion worker; deactivate =
drop both (the model stays loaded); cleanup = release the model.

Every pairing, normalisation, registration and fusion step is the core's
(:mod:`ris_fusion_ros.core.io`, :mod:`ris_fusion_ros.core.fusion`); the node only converts and counts.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections import Counter
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from ..core.detection.classes import COCO80
from ..core.errors import ConfigError, RisFusionError
from ..core.fusion import available_methods
from ..core.io.image_codec import array_to_image_fields, message_to_array
from ..core.io.sync import ApproximateTimeSync, SyncedPair
from ..core.io.thermal import MODES, ThermalNormalizer
from ..core.pipeline.config import IDENTITY, sync_config, thermal_config
from ..core.pipeline.edit import EditStage, EditUpdate
from ..core.pipeline.stages import FusionStage, ReferringStage, StageError, decode_image
from . import vision
from .common import (
    LatencyTracker,
    ParamSpec,
    QosIncidents,
    add_validation_callback,
    declare_parameters,
    diagnostic_status,
    overriding_options,
    parameter_values,
    reliable_qos,
    sensor_qos,
)
from .runner import run_single_node
from .worker_node import WorkerLifecycleNode

NODE_NAME = "fusion_node"
THERMAL_TOPIC = "thermal/image_raw"
RGB_TOPIC = "rgb/image_raw"
RGB_INFO_TOPIC = "rgb/camera_info"
FUSED_TOPIC = "fused/image"
FUSED_INFO_TOPIC = "fused/camera_info"
FUSED_THERMAL_TOPIC = "fused/thermal"
MASK_TOPIC = "referring/mask"
EDIT_TEXT_TOPIC = "fusion_edit_text"
EDIT_STATUS_TOPIC = "~/edit_status"
DETECTIONS_TOPIC = "detections"
EDIT_TEXT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
EDIT_STATUS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
DIAGNOSTICS_TOPIC = "/diagnostics"
_APPLIED_AT_CONFIGURE = " (applied at the next configure)"

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("fusion_method", "risfusenet", "fusion method name", read_only=True,
              constraints="one of: " + ", ".join(available_methods())),
    ParamSpec("backend", "onnxruntime", "inference backend of network methods", read_only=True,
              constraints="onnxruntime, torch or tensorrt"),
    ParamSpec("device", "cpu", "device of network methods (cpu, cuda, cuda:N)", read_only=True),
    ParamSpec("threads", 2, "CPU threads of the backend (0 = runtime default)", 0, 256, read_only=True),
    ParamSpec("thermal_normalization", "percentile", "thermal -> uint8 mode",
              constraints="one of: " + ", ".join(MODES)),
    ParamSpec("thermal_min", 0.0, "fixed mode: input value mapped to 0 (counts, kelvin...)"),
    ParamSpec("thermal_max", 65535.0, "fixed mode: input value mapped to 255; must exceed thermal_min"),
    ParamSpec("thermal_low_percentile", 1.0, "percentile mode: low end of the window (%)", 0.0, 100.0),
    ParamSpec("thermal_high_percentile", 99.0, "percentile mode: high end of the window (%)", 0.0, 100.0),
    ParamSpec("thermal_smoothing", 0.9, "percentile mode: EMA weight of the previous window", 0.0, 0.999),
    ParamSpec("sync_queue_size", 10, "messages kept per stream while waiting for a partner" + _APPLIED_AT_CONFIGURE,
              1, 1000),
    ParamSpec("sync_slop_seconds", 0.05, "largest stamp difference of a pair (s)" + _APPLIED_AT_CONFIGURE,
              0.0, 10.0),
    ParamSpec("thermal_offset_seconds", 0.0, "added to every thermal stamp before pairing (s)"
              + _APPLIED_AT_CONFIGURE, -10.0, 10.0),
    ParamSpec("stall_timeout_seconds", 2.0, "a stream silent (by stamps or wall clock) this long is stalled (s)"
              + _APPLIED_AT_CONFIGURE, 0.01, 3600.0),
    ParamSpec("homography", IDENTITY, "thermal -> RGB pixel homography, 9 doubles row-major (ignored when "
              "calibration_file is set)", read_only=True),
    ParamSpec("calibration_file", "", "YAML with homography, thermal_size and rgb_size (empty: use homography)",
              read_only=True),
    ParamSpec("diagnostics_period_seconds", 1.0, "period of /diagnostics (s)", 0.05, 60.0, read_only=True),
    ParamSpec("feedback_strength", 0.0, "referring feedback: the latest referring/mask leans the next frames' fusion "
              "to infrared inside the (dilated) mask by this much (0 = off; risfusenet only)", 0.0, 1.0,
              read_only=True),
    ParamSpec("max_text_length", 1024, "longest edit command on fusion_edit_text (characters); longer ones are "
              "rejected", 1, 1_000_000, read_only=True),
    ParamSpec("autostart", True, "main(): configure and activate at start-up", read_only=True),
)
_THERMAL_PARAMS = ("thermal_normalization", "thermal_min", "thermal_max", "thermal_low_percentile",
                   "thermal_high_percentile", "thermal_smoothing")
_SYNC_PARAMS = ("sync_queue_size", "sync_slop_seconds", "thermal_offset_seconds", "stall_timeout_seconds")


class FusionNode(WorkerLifecycleNode):
    """Thermal + RGB -> fused RGB; see the module docstring for topics and lifecycle."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self, PARAMS)
        add_validation_callback(self, _THERMAL_PARAMS + _SYNC_PARAMS, self._validate)
        self.add_post_set_parameters_callback(self._after_set)
        self.qos_incidents = QosIncidents(self)
        self.latency = LatencyTracker()
        self.last_error = ""  # reason of the last failed transition
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: SyncedPair | None = None
        self._stop = True
        self._worker: threading.Thread | None = None
        self._reset_state()

    # ----------------------------------------------------------------- parameters
    @staticmethod
    def _validate(values: dict[str, Any]) -> str | None:
        try:
            thermal_config(values)
            sync_config(values)
        except ConfigError as exc:
            return str(exc)
        return None

    def _after_set(self, params: list[Parameter]) -> None:
        stage = self._stage
        if stage is not None and any(p.name in _THERMAL_PARAMS for p in params):
            stage.normalizer = ThermalNormalizer(thermal_config(parameter_values(self, PARAMS)))
        if any(p.name in _SYNC_PARAMS for p in params) and self._sync is not None:
            self.get_logger().info("sync parameters changed; they apply at the next configure")

    # ----------------------------------------------------------------- state
    def _reset_state(self) -> None:
        self._stage: FusionStage | None = None
        self._edits: EditStage | None = None
        self._frame_size: tuple[int, int] | None = None  # (width, height) of the last fused frame
        self._sync: ApproximateTimeSync | None = None
        self._fused_pub = self._info_pub = self._thermal_pub = self._diag_pub = self._edit_pub = None
        self._diag_timer = None
        self._subs: list[Any] = []
        self._camera_info: CameraInfo | None = None
        self._bad: Counter[str] = Counter()
        self._bad_reported: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._stale_pairs = 0
        self._fused = 0
        self._last_rx: dict[str, float | None] = {"thermal": None, "rgb": None}
        self._reported_sync: dict[str, int] = {}
        self._backend_info = ""
        self._stall_s = 2.0

    def _release(self) -> None:
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        for pub in (self._fused_pub, self._info_pub, self._thermal_pub, self._diag_pub, self._edit_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        if self._stage is not None:
            self._stage.close()
        self._reset_state()

    # ----------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            values = parameter_values(self, PARAMS)
            sync = sync_config(values)
            stage = FusionStage.from_values(values)  # loads the model: a bad backend/device fails here
            edits = EditStage(ReferringStage.for_edits(), int(values["max_text_length"]))
        except Exception as exc:  # every reason must reach the caller, including runtime import errors
            kind = "configuration" if isinstance(exc, RisFusionError) else type(exc).__name__
            self.last_error = f"configure failed ({kind}): {exc}"
            self.get_logger().error(self.last_error)
            self._release()
            return TransitionCallbackReturn.FAILURE
        self._stage = stage
        self._edits = stage.edits = edits
        self._edit_pub = self.create_publisher(String, EDIT_STATUS_TOPIC, EDIT_STATUS_QOS)
        self._edit_pub.publish(String(data=f"ready; active: {edits.describe()}"))  # late joiners: no edits yet
        self._sync = ApproximateTimeSync(sync)
        self._stall_s = float(values["stall_timeout_seconds"])
        self._backend_info = stage.info()
        self._thermal_pub = self.create_lifecycle_publisher(
            Image, FUSED_THERMAL_TOPIC, reliable_qos(),
            event_callbacks=self.qos_incidents.publisher_callbacks(FUSED_THERMAL_TOPIC),
            qos_overriding_options=overriding_options())
        self._fused_pub = self.create_lifecycle_publisher(
            Image, FUSED_TOPIC, reliable_qos(), event_callbacks=self.qos_incidents.publisher_callbacks(FUSED_TOPIC),
            qos_overriding_options=overriding_options())
        self._info_pub = self.create_lifecycle_publisher(
            CameraInfo, FUSED_INFO_TOPIC, reliable_qos(),
            event_callbacks=self.qos_incidents.publisher_callbacks(FUSED_INFO_TOPIC))
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, reliable_qos(10))
        self._diag_timer = self.create_timer(values["diagnostics_period_seconds"], self._publish_diagnostics)
        self.last_error = ""
        self.get_logger().info(f"configured: {self._backend_info}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        qos = sensor_qos()
        self._subs = [
            self.create_subscription(Image, THERMAL_TOPIC, self._on_thermal, qos,
                                     event_callbacks=self.qos_incidents.subscription_callbacks(THERMAL_TOPIC),
                                     qos_overriding_options=overriding_options()),
            self.create_subscription(Image, RGB_TOPIC, self._on_rgb, qos,
                                     event_callbacks=self.qos_incidents.subscription_callbacks(RGB_TOPIC),
                                     qos_overriding_options=overriding_options()),
            self.create_subscription(CameraInfo, RGB_INFO_TOPIC, self._on_camera_info, sensor_qos()),
        ]
        if self._stage is not None and self._stage.feedback_strength > 0:
            self._subs.append(self.create_subscription(Image, MASK_TOPIC, self._on_mask, reliable_qos()))
        self._subs.append(self.create_subscription(
            String, EDIT_TEXT_TOPIC, self._on_edit, EDIT_TEXT_QOS,
            event_callbacks=self.qos_incidents.subscription_callbacks(EDIT_TEXT_TOPIC)))
        if vision.AVAILABLE:
            self._subs.append(self.create_subscription(vision.Detection2DArray, DETECTIONS_TOPIC, self._on_detections,
                                                       sensor_qos()))
        else:
            self.get_logger().warning(f"edits naming objects will not resolve: {vision.UNAVAILABLE_REASON}")
        self._start_worker()
        return super().on_activate(state)

    # ----------------------------------------------------------------- input
    def _decode(self, stream: str, msg: Image) -> None:
        self._last_rx[stream] = time.monotonic()
        try:
            decoded = decode_image(stream, msg)
        except StageError as exc:
            self.bad_input(exc.reason, exc)
            return
        self._push(stream, decoded.stamp_ns, (decoded, msg.header))

    def _on_thermal(self, msg: Image) -> None:
        self._decode("thermal", msg)

    def _on_rgb(self, msg: Image) -> None:
        self._decode("rgb", msg)

    def _on_mask(self, msg: Image) -> None:
        stage = self._stage
        if stage is None:
            return
        try:
            stage.set_feedback(message_to_array(msg) if msg.encoding == "mono8" else None)
        except RisFusionError as exc:
            self.bad_input("feedback_mask", exc)
            return
        if msg.encoding != "mono8":
            self.bad_input("feedback_mask", f"referring/mask encoding {msg.encoding!r} is not mono8")

    def apply_edit(self, text: str) -> EditUpdate | None:
        """One edit command (the ``fusion_edit_text`` callback); the reply goes to ``~/edit_status``."""
        edits, pub = self._edits, self._edit_pub
        if edits is None or pub is None:
            return None
        update = edits.command(text)
        verdict = "ok" if update.accepted else "rejected"
        status = update.message if "active:" in update.message else f"{update.message}; active: {edits.describe()}"
        pub.publish(String(data=f"[{verdict}] {update.text!r}: {status}"))
        if update.kind == "rejected":
            self.bad_input("edit_text_rejected", update.message)
        else:
            self.get_logger().info(f"edit {update.text!r}: {update.message}")
        return update

    def _on_edit(self, msg: String) -> None:
        self.apply_edit(msg.data)

    def _on_detections(self, msg: Any) -> None:
        edits, size = self._edits, self._frame_size
        if edits is None or size is None:  # no fused frame yet: the detections' frame size is unknown
            return
        edits.set_detections(vision.from_detection2d_array(msg, COCO80), size)

    def _push(self, stream: str, stamp_ns: int, payload: Any) -> None:
        sync = self._sync
        if sync is None:
            return
        pairs = sync.push(stream, stamp_ns, payload)
        if not pairs:
            return
        with self._wake:
            # only the newest pair is fused: pairs the worker has not reached yet are stale
            self._stale_pairs += len(pairs) - 1 + (self._pending is not None)
            self._pending = pairs[-1]
            self._wake.notify()

    # ----------------------------------------------------------------- fusion worker
    def _worker_name(self) -> str:
        return "fusion_worker"

    def _process_item(self, item: object) -> None:
        try:
            self._fuse_pair(item)
        except Exception as exc:  # never let one pair kill the worker
            self.bad_input("fusion_error", f"{type(exc).__name__}: {exc}")

    def _fuse_pair(self, pair: SyncedPair) -> None:
        thermal, _thermal_header = pair.thermal
        rgb, rgb_header = pair.rgb
        stage = self._stage
        if stage is None:
            return
        try:
            frame = stage.run(thermal.array, rgb.array, rgb.encoding)
        except StageError as exc:
            self.bad_input(exc.reason, exc)
            return
        self._frame_size = (frame.fused.shape[1], frame.fused.shape[0])
        out = Image(header=rgb_header, **array_to_image_fields(frame.fused, "rgb8"))
        publisher, info_pub, camera_info = self._fused_pub, self._info_pub, self._camera_info
        if publisher is None:
            return
        if self._thermal_pub is not None:  # first, so a consumer of both has the thermal when the fused arrives
            self._thermal_pub.publish(Image(header=rgb_header, **array_to_image_fields(frame.ir, "mono8")))
        publisher.publish(out)
        if camera_info is not None and info_pub is not None:
            info = copy.deepcopy(camera_info)
            info.header = rgb_header
            info_pub.publish(info)
        self.latency.record(pair.rgb_stamp_ns, self.get_clock().now().nanoseconds)
        with self._lock:
            self._fused += 1

    # ----------------------------------------------------------------- diagnostics
    def _stalled_streams(self, sync_stalled: tuple[str, ...]) -> list[str]:
        now = time.monotonic()
        stalled = set(sync_stalled)
        if self._subs:  # wall clock: catches a stream (or both) that stopped altogether
            for stream, last in self._last_rx.items():
                if last is not None and now - last > self._stall_s:
                    stalled.add(stream)
        return sorted(stalled)

    def _publish_diagnostics(self) -> None:
        sync, diag_pub = self._sync, self._diag_pub
        if sync is None or diag_pub is None:
            return
        stats = sync.stats
        with self._lock:
            bad = dict(self._bad)
            new_bad = {k: v - self._bad_reported[k] for k, v in bad.items() if v > self._bad_reported[k]}
            self._bad_reported = Counter(bad)
            stale, fused = self._stale_pairs, self._fused
        stalled = self._stalled_streams(sync.stalled)
        self._log_stamp_problems(stats)
        values: list[tuple[str, Any]] = list(self.latency.snapshot().items())
        values += [("pairs", stats.pairs), ("fused", fused), ("stale_pairs_dropped", stale)]
        for name in ("thermal", "rgb"):
            s = getattr(stats, name)
            values += [(f"{name}_received", s.received), (f"{name}_dropped", s.dropped),
                       (f"{name}_unmatched", s.unmatched), (f"{name}_queue_overflow", s.queue_overflow),
                       (f"{name}_backwards", s.backwards), (f"{name}_duplicate", s.duplicate),
                       (f"{name}_stalled", s.stalled or name in stalled)]
        stage = self._stage
        values.append(("thermal_nonfinite_pixels", stage.normalizer.total_nonfinite if stage else 0))
        values += self._edit_diagnostics()
        values += [(f"bad_input.{reason}", count) for reason, count in sorted(bad.items())]
        values += [("bad_input_total", sum(bad.values())), ("incompatible_qos", self.qos_incidents.total),
                   ("backend", self._backend_info), ("active", bool(self._subs))]
        if stalled:
            level, message = DiagnosticStatus.WARN, "stalled: " + ", ".join(stalled)
        elif new_bad:
            level, message = DiagnosticStatus.WARN, "bad input: " + ", ".join(f"{k} x{v}" for k, v in new_bad.items())
        else:
            level, message = DiagnosticStatus.OK, "fusing" if self._subs else "inactive"
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        name = f"{self.get_fully_qualified_name()}: fusion"
        array.status = [diagnostic_status(name, "ris_fusion", level, message, values)]
        diag_pub.publish(array)

    def _edit_diagnostics(self) -> list[tuple[str, Any]]:
        edits = self._edits
        if edits is None:
            return []
        status = edits.status()
        timing = status["edit_ms"]
        denoise = ", ".join(f"{t}: {s}" for t, s in status["denoise"].items()) or "none"
        targets = ", ".join(f"{t}: {s}" for t, s in status["targets"].items()) or "none"
        return [("edits_active", status["edits"]), ("edit_denoise", denoise), ("edit_targets_preparing", targets),
                ("edit_p50_ms", f"{timing['p50']:.3f}" if timing else "n/a"),
                ("edit_p99_ms", f"{timing['p99']:.3f}" if timing else "n/a"),
                ("edit_frames", status["frames_edited"]), ("edit_commands_accepted", status["commands_accepted"]),
                ("edit_commands_rejected", status["commands_rejected"]),
                ("edit_detections", status["detections"]), ("edit_refer_errors", status["refer_errors"])]

    def _log_stamp_problems(self, stats: Any) -> None:
        for name in ("thermal", "rgb"):
            s = getattr(stats, name)
            for field in ("backwards", "duplicate"):
                key = f"{name}_{field}"
                new = getattr(s, field) - self._reported_sync.get(key, 0)
                if new > 0:
                    self.get_logger().warning(f"{name}: {new} message(s) with {field} stamps dropped")
                self._reported_sync[key] = getattr(s, field)


def main(argv: list[str] | None = None) -> int:
    """``python -m ris_fusion_ros.nodes.fusion_node [--ros-args ...]``."""
    return run_single_node(FusionNode, argv)


if __name__ == "__main__":
    sys.exit(main())
