"""The three processing stages, each a small object the nodes and the offline replay share.

* :class:`FusionStage` - decoded thermal + RGB arrays -> normalised, registered IR and the fused RGB frame;
* :class:`DetectionStage` - fused RGB -> detections (the detection core's model, a score floor, and a
  one-frame cache so two nodes in one process never run the model twice on the same frame);
* :class:`ReferringStage` - text + detections -> :class:`ReferredSelection` (the referring core).

Problems with one frame raise :class:`StageError`, whose ``reason`` is the counter name the nodes
put in ``/diagnostics`` and the replay puts in its report.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..detection.merge import merge_streams, stream_floor
from ..detection.types import OPERATING_SCORE, Detection, detect_many
from ..errors import ConfigError, DataError
from ..feedback import feedback_control, search_image, validate_search, validate_strength
from ..fusion import RuntimeOptions, create_method, require_conditioning
from ..io.image_codec import ImageFormatError, message_to_array, to_rgb8
from ..io.registration import Registration
from ..io.sync import header_stamp_ns
from ..io.thermal import ThermalNormalizer
from ..referring.operating_point import OperatingPoint
from ..referring.referrer import candidate_floor
from ..referring.types import ReferredSelection
from .config import registration_config, thermal_config

THERMAL_ENCODINGS = ("mono8", "mono16", "16UC1", "32FC1")
RGB_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")


class StageError(DataError):
    """One frame could not be processed; ``reason`` names the counter (``size_mismatch``, ``rgb_encoding``...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    """An image message as numpy with what the stages need from its header."""

    stamp_ns: int
    array: np.ndarray
    encoding: str
    frame_id: str


def decode_image(stream: str, msg: Any) -> DecodedImage:
    """A ``sensor_msgs/Image`` (rclpy or rosbags object) of ``stream`` ("thermal"/"rgb") -> DecodedImage."""
    encodings = THERMAL_ENCODINGS if stream == "thermal" else RGB_ENCODINGS
    if msg.encoding not in encodings:
        raise StageError(f"{stream}_encoding", f"{stream} encoding {msg.encoding!r} is not one of {encodings}")
    try:
        return DecodedImage(header_stamp_ns(msg), message_to_array(msg), msg.encoding, msg.header.frame_id)
    except DataError as exc:  # ImageFormatError included: data length, step, size
        raise StageError(f"{stream}_data", str(exc)) from exc


# ----------------------------------------------------------------------------- fusion


@dataclass(frozen=True)
class FusedFrame:
    """``ir``: normalised thermal registered to the RGB frame (uint8 HxW); ``vis``: RGB uint8; ``fused``: RGB."""

    ir: np.ndarray
    vis: np.ndarray
    fused: np.ndarray


class FusionStage:
    """Normalise, register and fuse one pair; the normaliser keeps its temporal smoothing between frames."""

    def __init__(self, method: Any, registration: Registration, normalizer: ThermalNormalizer,
                 check_sizes: bool) -> None:
        self.method = method
        self.registration = registration
        self.normalizer = normalizer
        self.check_sizes = check_sizes
        self._lock = threading.Lock()  # the normaliser's smoothing state is sequential
        self.feedback_strength = 0.0  # > 0: the last referred mask steers the next fusion (core.feedback)
        self._feedback: Any = None  # the latest referred selection (or bare mask) for the next fusion
        self.search = "off"  # a no-match looks again at a view of the frame (core.feedback.search_image)
        self.edits: Any = None  # an EditStage (.edit): text-commanded edits applied inside the fusion call

    @classmethod
    def from_values(cls, values: Mapping[str, Any], warm_up: bool = True) -> FusionStage:
        """Build from parameter values (see :mod:`.config`); loads the model. ConfigError/other on failure."""
        thermal = thermal_config(values)
        registration, check_sizes = registration_config(values)
        options = RuntimeOptions(values["backend"], values["device"], "fp32", values["threads"])
        method = create_method(values["fusion_method"], options)
        if warm_up:  # networks load lazily: fuse a tiny pair now so a bad backend/device fails here
            method.fuse(np.zeros((32, 32), np.uint8), np.zeros((32, 32, 3), np.uint8))
        stage = cls(method, registration, ThermalNormalizer(thermal), check_sizes)
        stage.set_feedback_strength(values.get("feedback_strength", 0.0))
        stage.set_search(values.get("search", "off"))
        return stage

    def set_feedback_strength(self, strength: float) -> None:
        """0 turns the feedback off; > 0 needs a method with a ``control`` input (ConfigError otherwise)."""
        strength = validate_strength(strength)
        if strength > 0:
            require_conditioning(self.method, "control", purpose="feedback_strength > 0 needs a fusion method "
                                 "with a control map (risfusenet)")
        self.feedback_strength = strength

    def set_search(self, mode: str | bool) -> None:
        """off / fusion / source (:data:`~ris_fusion_ros.core.feedback.SEARCH_MODES`); ``fusion`` needs a method
        with a control map (ConfigError otherwise)."""
        mode = validate_search(mode)
        if mode == "fusion":
            require_conditioning(self.method, "control", purpose="search 'fusion' needs a fusion method with a "
                                 "control map (risfusenet); 'source' works with any")
        self.search = mode

    def search_view(self, frame: FusedFrame, lean: float) -> np.ndarray:
        """The image a search looks at for a no-match leaning ``lean`` (+1 infrared, -1 visible)."""
        return search_image(self.search, lean, self.method, frame.ir, frame.vis)

    def set_feedback(self, selection_or_mask: Any) -> None:
        """The latest referred selection or mask (uint8/bool HxW); it drives the next frames' fusion."""
        with self._lock:
            self._feedback = selection_or_mask

    def _control(self, shape: tuple[int, int]) -> np.ndarray | None:
        with self._lock:
            source = self._feedback
        if self.feedback_strength <= 0 or source is None:
            return None
        if np.shape(getattr(source, "mask", source)) != tuple(shape):
            return None  # a mask of another size (camera change) is ignored, not resized
        control = feedback_control(source, shape, self.feedback_strength)
        return control if control.any() else None

    def info(self) -> str:
        info = self.method.info()
        return ", ".join(f"{k}={info[k]}" for k in ("name", "backend", "device", "precision") if k in info)

    def run(self, thermal: np.ndarray, rgb: np.ndarray, rgb_encoding: str) -> FusedFrame:
        if self.check_sizes and thermal.shape[:2] != rgb.shape[:2]:
            raise StageError("size_mismatch", f"thermal is {thermal.shape[1]}x{thermal.shape[0]} but RGB is "
                             f"{rgb.shape[1]}x{rgb.shape[0]} (WxH) and no calibration_file/homography is set")
        try:
            vis = to_rgb8(rgb, rgb_encoding)
            with self._lock:
                ir_norm = self.normalizer.normalize(thermal)
            ir = self.registration.warp(ir_norm, vis.shape)
            control = self._control(ir.shape[:2])
            if self.edits is not None:
                fused = self.edits.render(ir, vis, self.method, control)
            else:
                fused = self.method.fuse(ir, vis) if control is None else self.method.fuse(ir, vis, control=control)
        except ImageFormatError as exc:
            raise StageError("rgb_data", str(exc)) from exc
        except DataError as exc:
            raise StageError("registration" if "calibrat" in str(exc) else "fusion_data", str(exc)) from exc
        return FusedFrame(ir, vis, fused)

    def close(self) -> None:
        close = getattr(self.method, "close", None)
        if callable(close):
            close()


# ----------------------------------------------------------------------------- detection


class DetectionStage:
    """The detection core's model plus score floors and a one-frame cache (thread-safe).

    The detector runs down to ``candidate_score`` (the referring second look, see
    :class:`~ris_fusion_ros.core.referring.Referrer`); :meth:`detect` gives the detections >= ``min_score``
    (what is published), ``detect(..., candidates=True)`` all of them (what the referrer is given).
    With ``thermal_stream`` :meth:`referring_candidates` also runs the detector on the thermal frame and
    merges its people into the candidates (:func:`~ris_fusion_ros.core.detection.merge.merge_streams`);
    both streams then run down to half the candidate floor, since a merged box keeps the mean score.
    """

    def __init__(self, detector: Any, min_score: float = OPERATING_SCORE, candidate_score: float | None = None,
                 thermal_stream: bool = False) -> None:
        if not 0.0 <= float(min_score) <= 1.0:
            raise ConfigError(f"min_score must be within 0-1, got {min_score}")
        if candidate_score is not None and not 0.0 <= float(candidate_score) <= 1.0:
            raise ConfigError(f"second_look_score must be within 0-1, got {candidate_score}")
        self.detector = detector
        self.min_score = float(min_score)
        self.candidate_score = candidate_floor(self.min_score, candidate_score)
        self.thermal_stream = bool(thermal_stream)
        self.stream_score = stream_floor(self.candidate_score, self.thermal_stream)
        self._lock = threading.Lock()
        self._caches: dict[str, tuple[Hashable | None, list[Detection]]] = {}  # per input: the last frame's result
        self.runs = 0
        self.cache_hits = 0

    @classmethod
    def create(cls, name: str, runtime: RuntimeOptions, min_score: float = OPERATING_SCORE,
               candidate_score: float | None = None, thermal_stream: bool = False, imgsz: int = 0) -> DetectionStage:
        """Load ``name`` ("yolox-nano", "yolov5n", "yolov5n-seg" or a .onnx path) with the detection core;
        ``imgsz`` 0 = the model's own letterbox size."""
        try:
            from ..detection import create_detector
        except ImportError as exc:
            raise ConfigError(f"the detection core is not available in this installation ({exc})") from exc
        floor = stream_floor(candidate_floor(min_score, candidate_score), thermal_stream)
        detector = create_detector(name, runtime=runtime, conf=floor, imgsz=int(imgsz) or None)  # None: its own
        return cls(detector, min_score, candidate_score, thermal_stream)

    @property
    def class_names(self) -> list[str]:
        return list(getattr(self.detector, "class_names", []))

    def info(self) -> str:
        info = self.detector.info() if hasattr(self.detector, "info") else {}
        keys = ("model", "name", "backend", "device", "precision", "input_size")
        look = f"{self.candidate_score:g}" if self.candidate_score < self.min_score else "off"
        scores = (f"min_score={self.min_score:g}, referring_down_to={look}, "
                  f"thermal_stream={'on' if self.thermal_stream else 'off'}")  # the operating point in use
        return ", ".join([*(f"{k}={info[k]}" for k in keys if k in info), scores])

    def detect(self, image: np.ndarray, key: Hashable | None = None, candidates: bool = False,
               thermal: np.ndarray | None = None) -> list[Detection]:
        """Detections with score >= min_score (``candidates``: all the detector gave, down to the stream floor;
        the referrer takes :meth:`referring_candidates`); ``key`` (e.g. (stamp_ns, frame_id)) reuses the last
        result. With the thermal stream on, ``thermal`` (the frame's registered thermal image, given when a
        text will be referred) is detected in the same batched run, for :meth:`referring_candidates`."""
        detections = self._cached_many(self._with_thermal("frame", image, thermal), key)["frame"]
        floor = self.stream_score if candidates else self.min_score
        return [d for d in detections if d.score >= floor]

    def _with_thermal(self, slot: str, image: np.ndarray, thermal: np.ndarray | None) -> dict[str, np.ndarray]:
        """The images of one frame to detect: ``image`` in ``slot``, and ``thermal`` when the stream is on."""
        return {slot: image, "thermal": thermal} if self.thermal_stream and thermal is not None else {slot: image}

    def _cached_many(self, images: Mapping[str, np.ndarray], key: Hashable | None) -> dict[str, list[Detection]]:
        """The detector's output on each image of one frame (per slot), down to the stream floor, reused while
        ``key`` repeats; the images not cached run as one batch."""
        with self._lock:
            results: dict[str, list[Detection]] = {}
            for slot in images:
                last_key, last = self._caches.get(slot, (None, []))
                if key is not None and key == last_key:
                    self.cache_hits += 1
                    results[slot] = last
            missing = [slot for slot in images if slot not in results]
            if missing:
                outputs = detect_many(self.detector, [images[slot] for slot in missing])
                self.runs += len(missing)
                for slot, output in zip(missing, outputs, strict=True):
                    results[slot] = [d for d in output if d.score >= self.stream_score]
                    self._caches[slot] = (key, results[slot])
            return results

    def referring_candidates(self, image: np.ndarray, thermal: np.ndarray | None,
                             key: Hashable | None = None, slot: str = "frame") -> list[Detection]:
        """What the referrer is given: the candidates of ``image``, merged with the people the detector finds
        in ``thermal`` (uint8 HxW, registered to ``image``) when the thermal stream is on and ``thermal`` is
        given; then cut at the candidate floor. ``slot`` keeps another image of the same frame (a search
        view) from replacing the fused frame's cached detections."""
        found = self._cached_many(self._with_thermal(slot, image, thermal), key)  # the detector takes gray as is
        candidates = merge_streams(found[slot], found["thermal"]) if "thermal" in found else found[slot]
        return [d for d in candidates if d.score >= self.candidate_score]

    def close(self) -> None:
        close = getattr(self.detector, "close", None)
        if callable(close):
            close()


# ----------------------------------------------------------------------------- referring


def empty_selection(text: str, detections: list[Detection], size: tuple[int, int]) -> ReferredSelection:
    """No active text: an all-zero mask, nothing selected, and *not* a no-match."""
    width, height = size
    return ReferredSelection(text=text, mask=np.zeros((height, width), np.uint8), detections=detections,
                             explanation="no active text")


def selected_instances(selection: ReferredSelection) -> list[tuple[Detection, float]]:
    """The selected detections best first with their referring score (per detection, per selected
    instance, or the overall score, whichever the referrer filled in)."""
    scores = list(selection.referring_scores)
    out = []
    for rank, index in enumerate(selection.selected):
        if len(scores) == len(selection.detections):
            score = scores[index]
        elif len(scores) == len(selection.selected):
            score = scores[rank]
        else:
            score = selection.score
        out.append((selection.detections[index], float(score)))
    return out


class ReferringStage:
    """The referring core: which detections a text names, and their mask."""

    def __init__(self, referrer: Any) -> None:
        self.referrer = referrer
        self._lock = threading.Lock()

    @classmethod
    def create(cls, person_min_thermal_contrast: float | None = None,
               point: OperatingPoint | None = None) -> ReferringStage:
        """``person_min_thermal_contrast``: see ``core/referring/thermal_check.py``; ``point``: the scores the
        referrer works at (:class:`~ris_fusion_ros.core.referring.operating_point.OperatingPoint`; None = the
        :class:`~ris_fusion_ros.core.referring.Referrer` defaults)."""
        try:
            from ..referring import Referrer
            from ..referring.thermal_check import ThermalCheck
        except ImportError as exc:
            raise ConfigError(f"the referring core is not available in this installation ({exc})") from exc
        check = None if person_min_thermal_contrast is None else ThermalCheck(float(person_min_thermal_contrast))
        return cls(Referrer(thermal_check=check, **(point.referrer_scores() if point is not None else {})))

    @classmethod
    def for_edits(cls) -> ReferringStage:
        """The referring of text edits: they refer over the previous frame's detections against the current
        thermal image, so the boxes lag a moving object and the thermal check would misjudge them: off.
        They are given the published detections (already >= the detector's floor): all count, no second look."""
        return cls.create(0.0, OperatingPoint(0.0, None, False))

    def refer(self, text: str, detections: list[Detection], size: tuple[int, int],
              thermal: np.ndarray | None = None) -> ReferredSelection:
        """``size`` is (width, height) of the fused frame; an empty text gives :func:`empty_selection`."""
        if not text:
            return empty_selection(text, detections, size)
        try:
            with self._lock:
                selection = self.referrer.refer(text, detections, size, thermal=thermal)
        except DataError as exc:
            raise StageError("referring_data", str(exc)) from exc
        mask = np.asarray(selection.mask)
        if mask.shape != (size[1], size[0]) or mask.dtype != np.uint8:
            raise StageError("referring_output", f"referrer returned a {mask.dtype} mask of shape {mask.shape}; "
                             f"expected uint8 {size[1]}x{size[0]}")
        return selection
