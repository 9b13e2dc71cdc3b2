"""Pairing -> fusion -> detection -> referring on messages in recording order (the offline replay's engine).

The live nodes use the same pieces (:func:`decode_image`, :class:`ApproximateTimeSync`, the stages
and :class:`ActiveText`) one node each; this class strings them together in one thread for bags,
so a bag replayed offline gives, frame for frame, what the nodes publish live.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..detection.types import Detection
from ..errors import ConfigError
from ..feedback import search_again
from ..fusion import RuntimeOptions
from ..io.sync import ApproximateTimeSync, SyncedPair, SyncStats
from ..referring.types import ReferredSelection
from .config import merged, operating_point_config, sync_config
from .edit import EditStage, EditUpdate
from .stages import DecodedImage, DetectionStage, FusionStage, ReferringStage, StageError, decode_image
from .text import ActiveText, TextUpdate


@dataclass
class FrameResult:
    """Everything produced for one pair; stamps are the source stamps (RGB = the output's stamp)."""

    stamp_ns: int
    thermal_stamp_ns: int
    frame_id: str
    ir: np.ndarray  # normalised thermal registered to the RGB frame (what fused/thermal carries)
    fused: np.ndarray
    vis: np.ndarray  # the RGB input as rgb8
    detections: list[Detection] | None = None  # None: no detection stage
    selection: ReferredSelection | None = None  # None: no referring stage
    text: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Decode, pair, fuse, detect and refer; counts every frame that could not be used and why."""

    def __init__(self, fusion: FusionStage, sync: ApproximateTimeSync, detection: DetectionStage | None = None,
                 referring: ReferringStage | None = None, text: ActiveText | None = None,
                 edits: EditStage | None = None) -> None:
        if referring is not None and detection is None:
            raise ConfigError("referring needs detections: give the pipeline a detection stage too")
        self.fusion, self.sync, self.detection, self.referring = fusion, sync, detection, referring
        self.edits = edits  # text-commanded edits: rendered inside FusionStage.run, targets from the last detections
        fusion.edits = edits
        self.text = text or ActiveText()
        self.use_thermal = True  # as referring_segmentation_node's use_thermal: fused/thermal = FrameResult.ir
        self.bad: Counter[str] = Counter()
        self.bad_examples: dict[str, str] = {}
        self.frames = 0

    @classmethod
    def from_values(cls, values: Mapping[str, Any] | None = None, *, detect: bool = True,
                    refer: bool = True) -> Pipeline:
        """Build every stage from parameter values (node parameter names; defaults in :mod:`.config`)."""
        values = merged(values)
        fusion = FusionStage.from_values(values)
        detection = referring = None
        if detect or refer:
            runtime = RuntimeOptions(values["backend"], values["device"], "fp32", values["threads"])
            point = operating_point_config(values)
            detection = DetectionStage.create(values["detector"], runtime, point.min_score,
                                              point.candidate_floor() if refer else None,
                                              point.thermal_stream and refer, values["imgsz"])
        if refer:
            referring = ReferringStage.create(values["person_min_thermal_contrast"], point)
        text = ActiveText(values["default_text"], values["max_text_length"])
        edit_referring = ReferringStage.for_edits() if detection is not None else None
        edits = EditStage(edit_referring, values["max_text_length"])
        pipeline = cls(fusion, ApproximateTimeSync(sync_config(values)), detection, referring, text, edits)
        pipeline.use_thermal = bool(values["use_thermal"])
        return pipeline

    # ----------------------------------------------------------------- input
    def set_text(self, text: str) -> TextUpdate:
        return self.text.set(text)

    def edit(self, text: str) -> EditUpdate:
        """An operator edit command (as on ``fusion_edit_text``); ConfigError without an edit stage."""
        if self.edits is None:
            raise ConfigError("this pipeline has no edit stage")
        return self.edits.command(text)

    def _count(self, error: StageError) -> None:
        self.bad[error.reason] += 1
        self.bad_examples.setdefault(error.reason, str(error))

    def push_message(self, stream: str, msg: Any) -> list[FrameResult]:
        """One ``sensor_msgs/Image`` of ``stream`` ("thermal"/"rgb"): the frames it completed."""
        try:
            decoded = decode_image(stream, msg)
        except StageError as exc:
            self._count(exc)
            return []
        return self.push_decoded(stream, decoded)

    def push_decoded(self, stream: str, decoded: DecodedImage) -> list[FrameResult]:
        return self._process_all(self.sync.push(stream, decoded.stamp_ns, decoded))

    def flush(self) -> list[FrameResult]:
        """End of input: decide the pairs still waiting."""
        return self._process_all(self.sync.flush())

    @property
    def sync_stats(self) -> SyncStats:
        return self.sync.stats

    # ----------------------------------------------------------------- processing
    def _process_all(self, pairs: list[SyncedPair]) -> list[FrameResult]:
        results = []
        for pair in pairs:
            try:
                results.append(self.process(pair))
            except StageError as exc:
                self._count(exc)
        return results

    def process(self, pair: SyncedPair) -> FrameResult:
        thermal: DecodedImage = pair.thermal
        rgb: DecodedImage = pair.rgb
        timings: dict[str, float] = {}
        start = time.perf_counter()
        frame = self.fusion.run(thermal.array, rgb.array, rgb.encoding)
        timings["fusion"] = (time.perf_counter() - start) * 1e3
        edit_ms = self.edits.last_edit_ms if self.edits is not None else None
        if edit_ms is not None:  # the edits ran inside the fusion call: split them out (total stays right)
            timings["fusion"] -= edit_ms
            timings["edit"] = edit_ms
        result = FrameResult(pair.rgb_stamp_ns, pair.thermal_stamp_ns, rgb.frame_id, frame.ir, frame.fused,
                             frame.vis, text=self.text.text, timings_ms=timings)
        if self.detection is not None:
            start = time.perf_counter()
            # the thermal stream's frame joins the fused one in one batched run while a text is referred
            streamed = frame.ir if self.referring is not None and self.use_thermal and result.text else None
            result.detections = self.detection.detect(frame.fused, key=(pair.rgb_stamp_ns, rgb.frame_id),
                                                      thermal=streamed)
            timings["detection"] = (time.perf_counter() - start) * 1e3
            if self.edits is not None:  # the next frame's edit targets (fusion runs before detection)
                self.edits.set_detections(result.detections, (frame.fused.shape[1], frame.fused.shape[0]))
        if self.referring is not None and result.detections is not None:
            start = time.perf_counter()
            height, width = frame.fused.shape[:2]
            thermal = frame.ir if self.use_thermal else None
            candidates = self.detection.referring_candidates(frame.fused, thermal if result.text else None,
                                                             key=(pair.rgb_stamp_ns, rgb.frame_id))  # cached
            result.selection = self.referring.refer(result.text, candidates, (width, height), thermal)
            timings["referring"] = (time.perf_counter() - start) * 1e3
            start, key = time.perf_counter(), (pair.rgb_stamp_ns, rgb.frame_id)
            searched = search_again(  # the text found nothing: look again at the view favouring its category
                result.selection, self.fusion.search,
                lambda lean: self.detection.referring_candidates(self.fusion.search_view(frame, lean), thermal,
                                                                 key=key, slot=f"search{lean:+g}"),
                lambda found: self.referring.refer(result.text, found, (width, height), thermal))
            if searched is not None:
                result.selection = searched[0]
                timings["search"] = (time.perf_counter() - start) * 1e3
            if self.fusion.feedback_strength > 0:  # live feedback: this frame's mask steers the next fusion
                self.fusion.set_feedback(result.selection)
        timings["total"] = sum(timings.values())
        self.frames += 1
        return result

    def close(self) -> None:
        self.fusion.close()
        if self.detection is not None:
            self.detection.close()
