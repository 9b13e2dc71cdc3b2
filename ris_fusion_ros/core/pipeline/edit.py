"""Text-commanded edits of the live fused stream: the one edit stage the fusion node, the all-in-one
executable and ``ris-fusion replay`` share (issue 6).

:class:`EditStage` owns an :class:`~ris_fusion_ros.core.editing.EditSession`. Commands pass the same
text hygiene as the referring text (:func:`.text.text_problem`); target phrases are resolved every
frame by the referring core over the *latest detections the stage was given*. Fusion runs before
detection, so a frame is edited with the previous frame's detections (one frame behind; the
referring mask itself is recomputed on the current frame's thermal). ``everything`` needs no
detections; ``background`` is the complement of every current detection (box, or instance mask
where the detector segments) and of the other targets.

Nothing slow runs on the frame path: a target phrase the referrer has not parsed yet (an unknown
noun loads the sentence encoder, ~20 s once per process) is parsed in a background thread, and
until then that edit is skipped and reported as preparing; the denoiser adapts in the session's
own background thread the same way.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..detection.types import Detection
from ..editing import BACKGROUND, EVERYTHING, OBJECTS, EditReply, EditSession
from ..editing.merge import FEATHER_FRACTION
from ..errors import RisFusionError
from .text import DEFAULT_MAX_TEXT_LENGTH, text_problem

#: Frames whose edit cost is kept for the p50/p99 figures.
TIMING_WINDOW = 500


@dataclass(frozen=True)
class EditUpdate:
    """What one command did. ``accepted``: it passed the text rules and the parser understood it (an
    empty command is accepted and changes nothing); ``message`` is the reply the operator sees."""

    accepted: bool
    message: str
    text: str
    kind: str  # edit, reset, undo, unknown, rejected, empty
    targets: tuple[str, ...] = ()


@dataclass
class _Fusion:
    """The fusion method as :meth:`EditSession.render` sees it: adds the stage's other control map
    (referring feedback) to the edits' one and times the fusion call, so ``edit_ms`` excludes it."""

    method: Any
    base_control: np.ndarray | None
    fuse_s: float = 0.0

    def fuse(self, ir: np.ndarray, vis: np.ndarray, control: np.ndarray | None = None) -> np.ndarray:
        if control is not None and self.base_control is not None:
            control = np.clip(control + self.base_control, -1.0, 1.0)
        elif control is None:
            control = self.base_control
        start = time.perf_counter()
        fused = self.method.fuse(ir, vis) if control is None else self.method.fuse(ir, vis, control=control)
        self.fuse_s += time.perf_counter() - start
        return fused


@dataclass
class _Latest:
    """The detections the next frames are edited with."""

    detections: list[Detection] = field(default_factory=list)
    size: tuple[int, int] | None = None  # (width, height) of their frame; None: none received yet


class EditStage:
    """Operator edit commands in, edited fused frames out; thread-safe (commands and detections may come
    from other threads than the frames)."""

    def __init__(self, referring: Any | None = None, max_length: int = DEFAULT_MAX_TEXT_LENGTH,
                 feather_fraction: float = FEATHER_FRACTION, background: bool = True) -> None:
        """``referring``: a :class:`~.stages.ReferringStage` (None: only ``everything``/``background``
        edits resolve). ``background`` False prepares in the caller's thread (tests, offline tools)."""
        self.referring = referring
        self.max_length = max_length
        self.session = EditSession(feather_fraction=feather_fraction, background=background)
        self._background = background
        self._lock = threading.Lock()
        self._latest = _Latest()
        self._ready: set[str] = set()
        self._preparing: dict[str, threading.Thread] = {}
        self._failed: dict[str, str] = {}
        self.edit_ms: deque[float] = deque(maxlen=TIMING_WINDOW)
        self.last_edit_ms: float | None = None  # None: the last frame had no active edit
        self.accepted = self.rejected = self.frames_edited = 0
        self.detections_seen = False
        self.refer_errors = 0
        self.last_refer_error = ""

    # ----------------------------------------------------------------- commands
    def command(self, text: Any) -> EditUpdate:
        """Validate and apply one operator command (``reset`` / ``undo`` included)."""
        if not isinstance(text, str):
            return self._reject(str(text), f"command must be a string, got {type(text).__name__}")
        cleaned = text.strip()
        problem = text_problem(cleaned, self.max_length)
        if problem is not None:
            return self._reject(cleaned[:80], f"command rejected: {problem}; the active edits stay")
        if not cleaned:
            return EditUpdate(True, f"empty command: nothing changed; active: {self.describe()}", "", "empty")
        reply: EditReply = self.session.command(cleaned)
        if not reply.ok:
            with self._lock:
                self.rejected += 1
            return EditUpdate(False, reply.message, cleaned, reply.kind)
        targets = tuple(dict.fromkeys(c.target for c in reply.clauses))
        notes = [self._prepare(t) for t in targets if t not in (EVERYTHING, BACKGROUND)]
        with self._lock:
            self.accepted += 1
        message = "; ".join([reply.message, *[n for n in notes if n]])
        return EditUpdate(True, message, cleaned, reply.kind, targets)

    def _reject(self, text: str, message: str) -> EditUpdate:
        with self._lock:
            self.rejected += 1
        return EditUpdate(False, message, text, "rejected")

    def _prepare(self, phrase: str) -> str:
        """Parse a target phrase off the frame path; a note for the reply when it cannot resolve yet."""
        if self.referring is None:
            return f"'{phrase}' cannot be found: no referring stage (only 'everything'/'background' edits work)"
        note = "" if self.detections_seen else f"'{phrase}' needs detections (is the detection node running?)"
        with self._lock:
            if phrase in self._ready or phrase in self._preparing:
                return note
            self._failed.pop(phrase, None)

        def parse() -> None:
            try:
                self.referring.referrer.parse(phrase)
            except Exception as exc:  # reported in status(); the stream goes on without this target
                with self._lock:
                    self._failed[phrase] = f"{type(exc).__name__}: {exc}"
                    self._preparing.pop(phrase, None)
                return
            with self._lock:
                self._ready.add(phrase)
                self._preparing.pop(phrase, None)

        thread = threading.Thread(target=parse, name=f"edit-target:{phrase}", daemon=True)
        with self._lock:
            self._preparing[phrase] = thread
        thread.start()
        if not self._background:
            thread.join()
        return note

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Block until target parsing and denoiser adaptation are done (tests/offline; a stream never waits)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._preparing.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.session.wait_ready(max(0.0, deadline - time.monotonic())) and not self._preparing

    # ----------------------------------------------------------------- per frame
    def set_detections(self, detections: Sequence[Detection], size: tuple[int, int]) -> None:
        """The detections of the latest frame (``size`` = its (width, height)); used from the next render on."""
        with self._lock:
            self._latest = _Latest(list(detections), (int(size[0]), int(size[1])))
            self.detections_seen = True

    @property
    def active(self) -> bool:
        return bool(self.session.edits)

    def render(self, ir: np.ndarray, vis: np.ndarray, method: Any, control: np.ndarray | None = None) -> np.ndarray:
        """Fuse with the active edits (one fusion call; ``control`` = another control map to add, e.g. the
        referring feedback). Records ``last_edit_ms``: the time spent on the edits, fusion excluded."""
        start = time.perf_counter()
        fusion = _Fusion(method, control)
        if not self.active:
            fused = fusion.fuse(ir, vis)
            self.last_edit_ms = None
            return fused
        with self._lock:
            latest = self._latest
        height, width = ir.shape[:2]
        fused = self.session.render(ir, vis, _Masks(self, latest, (width, height), ir), fusion)
        self.last_edit_ms = (time.perf_counter() - start - fusion.fuse_s) * 1e3
        with self._lock:
            self.edit_ms.append(self.last_edit_ms)
            self.frames_edited += 1
        return fused

    def _refer(self, phrase: str, latest: _Latest, size: tuple[int, int], thermal: np.ndarray) -> np.ndarray | None:
        with self._lock:
            ready = phrase in self._ready
        if not ready or self.referring is None or latest.size != size or not latest.detections:
            return None
        try:
            selection = self.referring.refer(phrase, latest.detections, size, thermal)
        except RisFusionError as exc:  # this frame goes on without the edit; counted and shown in status()
            with self._lock:
                self.refer_errors += 1
                self.last_refer_error = f"{phrase}: {exc}"
            return None
        return None if selection.no_match else selection.mask

    # ----------------------------------------------------------------- reporting
    def describe(self) -> str:
        return self.session.status()["edits"]  # type: ignore[return-value]

    def timing(self) -> dict[str, float]:
        """edit_ms p50/p99 over the last frames with an active edit (empty before the first)."""
        with self._lock:
            values = list(self.edit_ms)
        if not values:
            return {}
        p50, p99 = np.percentile(values, [50, 99])
        return {"n": len(values), "p50": float(p50), "p99": float(p99)}

    def status(self) -> dict[str, Any]:
        """Active edits, what is still being prepared (targets, denoisers), edit_ms, command counters."""
        session = self.session.status()
        with self._lock:
            targets = {**{p: "preparing" for p in self._preparing}, **{p: f"failed: {e}" for p, e in
                                                                      self._failed.items()}}
            counters = {"commands_accepted": self.accepted, "commands_rejected": self.rejected,
                        "frames_edited": self.frames_edited, "detections": len(self._latest.detections),
                        "refer_errors": self.refer_errors, "last_refer_error": self.last_refer_error}
        return {"edits": session["edits"], "denoise": session["denoise"], "targets": targets, **counters,
                "edit_ms": self.timing()}


class _Masks:
    """Phrase -> mask for one frame (the session caches each phrase once per frame)."""

    def __init__(self, stage: EditStage, latest: _Latest, size: tuple[int, int], thermal: np.ndarray) -> None:
        self.stage, self.latest, self.size, self.thermal = stage, latest, size, thermal

    def __call__(self, phrase: str) -> np.ndarray | None:
        if phrase == OBJECTS:
            return objects_mask(self.latest.detections, self.size) if self.latest.size == self.size else None
        return self.stage._refer(phrase, self.latest, self.size, self.thermal)


def objects_mask(detections: Sequence[Detection], size: tuple[int, int]) -> np.ndarray | None:
    """Union of the detections' instance masks (or boxes where a detector gives none); None when empty."""
    width, height = size
    if not detections:
        return None
    mask = np.zeros((height, width), bool)
    for det in detections:
        if det.mask is not None and det.mask.shape == mask.shape:
            mask |= det.mask
            continue
        x1, y1, x2, y2 = (round(float(v)) for v in det.box)
        mask[max(0, y1):max(0, min(height, y2)), max(0, x1):max(0, min(width, x2))] = True
    return mask
