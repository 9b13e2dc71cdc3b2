"""Offline replay: a bag's thermal/RGB/text messages through :class:`Pipeline`, every output into a new bag.

Messages are taken in log-time order and fed exactly as the live nodes receive them (same decoding,
same pairing code, same stages, same text rules); outputs carry the source stamps and frames and
are written at the log time of the message that completed their pair.
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..color import to_gray
from ..evaluation import metrics
from ..io.image_codec import array_to_image_fields
from . import bag
from .markers import detection_marker_data, referred_marker_data
from .overlay import draw_detections, draw_referring
from .pipeline import FrameResult, Pipeline
from .stages import selected_instances


@dataclass
class ReplayTopics:
    thermal: str = "/thermal/image_raw"
    rgb: str = "/rgb/image_raw"
    rgb_info: str = "/rgb/camera_info"
    text: str = "/referring_text"
    edit: str = "/fusion_edit_text"


@dataclass
class ReplayStats:
    """What the report is made of (plain data, also written as JSON)."""

    frames: int = 0
    timings_ms: dict[str, list[float]] = field(default_factory=dict)
    stamps_s: list[float] = field(default_factory=list)  # source stamps of the outputs
    rss_mb: list[tuple[int, float]] = field(default_factory=list)  # (messages read, RSS MB)
    detections_per_frame: list[int] = field(default_factory=list)
    classes: Counter = field(default_factory=Counter)
    texts: dict[str, dict[str, float]] = field(default_factory=dict)
    metrics: list[dict[str, float]] = field(default_factory=list)
    messages_in: int = 0
    wall_s: float = 0.0
    outputs: dict[str, int] = field(default_factory=dict)
    edits: list[dict[str, Any]] = field(default_factory=list)  # every edit command: bag time, text, reply


def rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def frame_metrics(result: FrameResult, vis_gray: np.ndarray) -> dict[str, float]:
    fused = to_gray(result.fused)
    ir = result.ir
    return {"EN": metrics.entropy(fused), "SD": metrics.standard_deviation(fused),
            "SF": metrics.spatial_frequency(fused), "AG": metrics.average_gradient(fused),
            "MI": metrics.mutual_information(ir, vis_gray, fused), "Qabf": metrics.qabf(ir, vis_gray, fused)}


class Replayer:
    """Runs one bag through a pipeline; ``run()`` returns the stats."""

    def __init__(self, pipeline: Pipeline, in_bag: str | Path, out_bag: str | Path | None, *,
                 topics: ReplayTopics | None = None, text_at: list[tuple[float, str]] | None = None,
                 edit_at: list[tuple[float, str]] | None = None,
                 overlays: bool = True, markers: bool = True, marker_depth: float = 5.0, metrics_every: int = 10,
                 storage: str = "mcap", progress: Callable[[int], None] | None = None) -> None:
        self.pipeline, self.in_bag, self.out_bag = pipeline, Path(in_bag), out_bag
        self.topics = topics or ReplayTopics()
        self.text_at = sorted(text_at or [])
        self.edit_at = sorted(edit_at or [], key=lambda item: item[0])  # stable: same-time commands keep order
        self.overlays, self.metrics_every, self.storage = overlays, metrics_every, storage
        # the nodes' publish_markers / marker_depth_meters (defaults true / 5.0)
        self.markers, self.marker_depth = markers, marker_depth
        self.progress = progress
        self.stats = ReplayStats()
        self._writer: bag.BagWriter | None = None
        self._camera_info: Any = None
        self._next_diag_ns: int | None = None

    # ----------------------------------------------------------------- run
    def run(self) -> ReplayStats:
        start = time.perf_counter()
        self._writer = bag.BagWriter(self.out_bag, self.storage) if self.out_bag is not None else None
        wanted = {self.topics.thermal, self.topics.rgb, self.topics.rgb_info, self.topics.text, self.topics.edit}
        schedule = list(self.text_at)
        edit_schedule = list(self.edit_at)
        bag_start: int | None = None
        try:
            log_ns = 0
            for topic, _msgtype, log_ns, msg in bag.read_messages(self.in_bag, wanted):
                if bag_start is None:
                    bag_start = log_ns
                    if self.pipeline.text.text:  # a text set before the replay (--text) is the first active text
                        self._record_text(self.pipeline.text.text, log_ns)
                while schedule and bag_start + round(schedule[0][0] * 1e9) <= log_ns:
                    at, text = schedule.pop(0)
                    self._set_text(text, bag_start + round(at * 1e9))
                while edit_schedule and bag_start + round(edit_schedule[0][0] * 1e9) <= log_ns:
                    at, text = edit_schedule.pop(0)
                    self._edit(text, bag_start + round(at * 1e9), bag_start)
                self.stats.messages_in += 1
                if topic == self.topics.text:
                    self._set_text(msg.data, log_ns)
                elif topic == self.topics.edit:
                    self._edit(msg.data, log_ns, bag_start)
                elif topic == self.topics.rgb_info:
                    self._camera_info = msg
                else:
                    stream = "thermal" if topic == self.topics.thermal else "rgb"
                    for result in self.pipeline.push_message(stream, msg):
                        self._emit(result, log_ns)
                if self.stats.messages_in % 50 == 0:
                    self.stats.rss_mb.append((self.stats.messages_in, rss_mb()))
                if self._next_diag_ns is None or log_ns >= self._next_diag_ns:
                    self._write_diagnostics(log_ns)
                if self.progress is not None:
                    self.progress(1)
            for result in self.pipeline.flush():
                self._emit(result, log_ns)
            self._write_diagnostics(log_ns)
            self.stats.rss_mb.append((self.stats.messages_in, rss_mb()))
        finally:
            if self._writer is not None:
                self.stats.outputs = dict(self._writer.counts)
                self._writer.close()
        self.stats.wall_s = time.perf_counter() - start
        return self.stats

    def _set_text(self, text: str, log_ns: int) -> None:
        update = self.pipeline.set_text(text)
        if update.accepted:
            self._record_text(update.active, log_ns)

    def _edit(self, text: str, log_ns: int, bag_start: int) -> None:
        """An edit command, as the fusion node takes it from ``fusion_edit_text``; the reply goes to the bag's
        ``/fusion_node/edit_status`` and the report."""
        update = self.pipeline.edit(text)
        self.stats.edits.append({"t_s": (log_ns - bag_start) / 1e9, "command": update.text, "kind": update.kind,
                                 "accepted": update.accepted, "reply": update.message})
        if self._writer is not None:
            self._writer.write("/fusion_node/edit_status", "std_msgs/msg/String", bag.string(update.message), log_ns)

    def _record_text(self, text: str, log_ns: int) -> None:
        if self._writer is not None:
            self._writer.write("/referring_segmentation_node/active_text", "std_msgs/msg/String", bag.string(text),
                               log_ns)

    def _write_diagnostics(self, log_ns: int) -> None:
        """Once per second of bag time: the counters the nodes put in /diagnostics (processing time here)."""
        self._next_diag_ns = log_ns + 1_000_000_000
        if self._writer is None:
            return
        t = bag.typestore().types
        sync = self.pipeline.sync_stats
        total = self.stats.timings_ms.get("total", [])[-200:]
        p50, p99 = (float(v) for v in np.percentile(total, [50, 99])) if total else (float("nan"),) * 2
        values = [("frames", self.stats.frames), ("pairs", sync.pairs), ("processing_p50_ms", f"{p50:.3f}"),
                  ("processing_p99_ms", f"{p99:.3f}")]
        for name in ("thermal", "rgb"):
            s = getattr(sync, name)
            values += [(f"{name}_received", s.received), (f"{name}_dropped", s.dropped),
                       (f"{name}_unmatched", s.unmatched), (f"{name}_backwards", s.backwards)]
        edit = self.stats.timings_ms.get("edit", [])[-200:]
        if edit:
            e50, e99 = (float(v) for v in np.percentile(edit, [50, 99]))
            values += [("edit_p50_ms", f"{e50:.3f}"), ("edit_p99_ms", f"{e99:.3f}")]
        if self.pipeline.edits is not None:
            values.append(("active_edits", self.pipeline.edits.describe()))
        values += [(f"bad_input.{k}", v) for k, v in sorted(self.pipeline.bad.items())]
        bad = bool(self.pipeline.bad)
        key_values = [t["diagnostic_msgs/msg/KeyValue"](key=k, value=str(v)) for k, v in values]
        status = t["diagnostic_msgs/msg/DiagnosticStatus"](
            level=1 if bad else 0, name="ris-fusion replay: pipeline", message="bad input" if bad else "replaying",
            hardware_id="ris_fusion", values=key_values)
        array = t["diagnostic_msgs/msg/DiagnosticArray"](header=bag.header(log_ns, ""), status=[status])
        self._writer.write("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", array, log_ns)

    # ----------------------------------------------------------------- outputs
    def _emit(self, result: FrameResult, log_ns: int) -> None:
        stats = self.stats
        stats.frames += 1
        stats.stamps_s.append(result.stamp_ns / 1e9)
        for stage, ms in result.timings_ms.items():
            stats.timings_ms.setdefault(stage, []).append(ms)
        if self.metrics_every and (stats.frames - 1) % self.metrics_every == 0:
            stats.metrics.append(frame_metrics(result, to_gray(result.vis)))
        if result.detections is not None:
            stats.detections_per_frame.append(len(result.detections))
            stats.classes.update(d.class_name for d in result.detections)
        selection = result.selection
        if selection is not None and result.text:
            entry = stats.texts.setdefault(result.text, {"frames": 0, "matched": 0, "no_match": 0, "score_sum": 0.0})
            entry["frames"] += 1
            entry["no_match" if selection.no_match else "matched"] += 1
            entry["score_sum"] += float(selection.score)
        if self._writer is not None:
            self._write(result, log_ns)

    def _write(self, result: FrameResult, log_ns: int) -> None:
        w, stamp, frame = self._writer, result.stamp_ns, result.frame_id
        assert w is not None
        hdr = bag.header(stamp, frame)
        size = (result.fused.shape[1], result.fused.shape[0])
        w.write("/fused/image", "sensor_msgs/msg/Image", bag.image(result.fused, "rgb8", stamp, frame), log_ns)
        w.write("/fused/thermal", "sensor_msgs/msg/Image", bag.image(result.ir, "mono8", stamp, frame), log_ns)
        if self._camera_info is not None:
            info = self._camera_info
            info.header = hdr
            w.write("/fused/camera_info", "sensor_msgs/msg/CameraInfo", info, log_ns)
        if result.detections is not None:
            w.write("/detections", "vision_msgs/msg/Detection2DArray", detection_array(result, hdr), log_ns)
            if self.overlays:
                w.write("/detections/overlay", "sensor_msgs/msg/Image",
                        bag.image(draw_detections(result.fused, result.detections), "rgb8", stamp, frame), log_ns)
            if self.markers:
                data = detection_marker_data(result.detections, size, camera_info=self._camera_info,
                                             depth=self.marker_depth)
                w.write("/detections/markers", "visualization_msgs/msg/MarkerArray",
                        bag.marker_array(data, stamp, frame), log_ns)
        if result.selection is not None:
            res = referring_result(result, hdr)
            w.write("/referring/mask", "sensor_msgs/msg/Image", res.mask, log_ns)
            w.write("/referring/result", "ris_fusion_msgs/msg/ReferringResult", res, log_ns)
            if self.overlays:
                w.write("/referring/overlay", "sensor_msgs/msg/Image",
                        bag.image(draw_referring(result.fused, result.selection), "rgb8", stamp, frame), log_ns)
            if self.markers:
                data = referred_marker_data(result.selection, size,
                                            camera_info=self._camera_info, depth=self.marker_depth, text=result.text)
                w.write("/referring/markers", "visualization_msgs/msg/MarkerArray",
                        bag.marker_array(data, stamp, frame), log_ns)


def detection_array(result: FrameResult, hdr: Any) -> Any:
    """rosbags ``vision_msgs/Detection2DArray`` with the same field mapping as the live node."""
    t = bag.typestore().types
    items = []
    for det in result.detections or []:
        cx, cy = det.center
        bbox = t["vision_msgs/msg/BoundingBox2D"](
            center=t["vision_msgs/msg/Pose2D"](position=t["vision_msgs/msg/Point2D"](x=float(cx), y=float(cy)),
                                               theta=0.0),
            size_x=float(det.width), size_y=float(det.height))
        pose = t["geometry_msgs/msg/PoseWithCovariance"](
            pose=t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                                             orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.zeros(36))
        hyp = t["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=t["vision_msgs/msg/ObjectHypothesis"](class_id=det.class_name, score=float(det.score)),
            pose=pose)
        items.append(t["vision_msgs/msg/Detection2D"](header=hdr, results=[hyp], bbox=bbox, id=""))
    return t["vision_msgs/msg/Detection2DArray"](header=hdr, detections=items)


def referring_result(result: FrameResult, hdr: Any) -> Any:
    """rosbags ``ris_fusion_msgs/ReferringResult`` built like the live node's (instances best first)."""
    t = bag.typestore().types
    selection = result.selection
    assert selection is not None
    mask_fields = array_to_image_fields(selection.mask, "mono8")
    mask_fields["data"] = np.frombuffer(mask_fields["data"], np.uint8)
    mask = t["sensor_msgs/msg/Image"](header=hdr, **mask_fields)
    instances = []
    for det, referring_score in selected_instances(selection):
        x1, y1, x2, y2 = det.box
        instances.append(t["ris_fusion_msgs/msg/ReferredInstance"](
            x_min=float(x1), y_min=float(y1), x_max=float(x2), y_max=float(y2), score=float(det.score),
            class_id=int(det.class_id), class_name=det.class_name, referring_score=float(referring_score)))
    return t["ris_fusion_msgs/msg/ReferringResult"](
        header=hdr, text=selection.text, mask=mask, instances=instances, no_match=bool(selection.no_match),
        score=float(selection.score) if not selection.no_match else 0.0)
