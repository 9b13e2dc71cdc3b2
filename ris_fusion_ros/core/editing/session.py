"""Edit state of one stream: text commands in, edited fused frames out, frame after frame.

``EditSession.command(text)`` parses a sentence and updates the active edits (a repeated
command adds to its strength, opposite ones cancel, "undo" and "reset" work on a history);
``render`` fuses a pair with the control map of the active inclination edits and applies the
pixel edits; ``apply`` applies the pixel edits to an already fused frame. Target phrases are
resolved every frame by the caller (phrase -> mask), so an edit follows its object. Anything
slow — the denoiser's adaptation — runs once per command in a background thread; until it is
ready that edit is reported as ``preparing`` and the frames go on unedited by it.
ROS-free; the fusion node wires it to a topic.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import ConfigError, DataError
from .commands import BACKGROUND, EVERYTHING, Clause, Effect, parse_command
from .denoise import DenoiseUnit, fit_zero_shot_unit
from .highlight import highlight_luma
from .merge import FEATHER_FRACTION, as_bool_mask, bounding_box, composite, feathered_weight
from .retinex import exposure_gain

#: Key a mask resolver may answer with the union of all detected/referred objects; "background"
#: is the complement of that union and of every other target that has an active edit.
OBJECTS = "__objects__"

MaskSource = Callable[[str], "np.ndarray | None"] | Mapping[str, np.ndarray]

# Edits live on four axes; brighten/darken and infrared/visible are the two signs of one axis.
INCLINATION, EXPOSURE, DENOISE, HIGHLIGHT = "inclination", "exposure", "denoise", "highlight"
_AXIS = {Effect.INFRARED: (INCLINATION, 1.0), Effect.VISIBLE: (INCLINATION, -1.0),
         Effect.BRIGHTEN: (EXPOSURE, 1.0), Effect.DARKEN: (EXPOSURE, -1.0),
         Effect.DENOISE: (DENOISE, 1.0), Effect.HIGHLIGHT: (HIGHLIGHT, 1.0)}
_LIMITS = {INCLINATION: (-2.0, 2.0), EXPOSURE: (-3.0, 3.0), DENOISE: (0.0, 3.0), HIGHLIGHT: (0.0, 3.0)}
#: Control-map value per unit of inclination strength (a normal command = 0.5, strong = 1).
CONTROL_PER_STRENGTH = 0.5


@dataclass
class EditReply:
    """Answer to one command: ``ok`` False means nothing changed, ``message`` says why."""

    ok: bool
    message: str
    kind: str
    clauses: list[Clause] = field(default_factory=list)


@dataclass
class _Denoiser:
    """Adaptation state of one denoise edit."""

    unit: DenoiseUnit | None = None
    thread: threading.Thread | None = None
    error: str = ""


class EditSession:
    """Active text-commanded edits of one stream (thread-safe: commands may arrive from another thread)."""

    def __init__(self, feather_fraction: float = FEATHER_FRACTION, history: int = 32,
                 background: bool = True) -> None:
        self._edits: dict[tuple[str, str], float] = {}
        self._history: list[dict[tuple[str, str], float]] = []
        self._max_history = history
        self._denoisers: dict[str, _Denoiser] = {}
        self._feather_fraction = feather_fraction
        self._background = background
        self._lock = threading.Lock()
        self._frame_lock = threading.Lock()  # one frame at a time through the work buffers
        self._buffers: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.last_apply_ms = 0.0

    # -- commands -------------------------------------------------------------------------

    def command(self, text: str) -> EditReply:
        """Parse ``text`` and update the edits; an unknown command changes nothing."""
        parsed = parse_command(text)
        with self._lock:
            if parsed.kind == "unknown":
                return EditReply(False, parsed.message, parsed.kind)
            if parsed.kind == "undo":
                if not self._history:
                    return EditReply(False, "nothing to undo", parsed.kind)
                self._edits = self._history.pop()
                self._drop_unused_denoisers()
                return EditReply(True, f"undone; active: {self._describe()}", parsed.kind)
            self._remember()
            if parsed.kind == "reset":
                self._edits.clear()
                self._denoisers.clear()
                return EditReply(True, "all edits removed; plain fusion", parsed.kind)
            for clause in parsed.clauses:
                axis, sign = _AXIS[clause.effect]
                key = (clause.target, axis)
                low, high = _LIMITS[axis]
                value = float(np.clip(self._edits.get(key, 0.0) + sign * clause.strength, low, high))
                if value == 0.0:
                    self._edits.pop(key, None)
                else:
                    self._edits[key] = value
                if axis == DENOISE:
                    self._denoisers[clause.target] = _Denoiser()  # adapt again, once, on the next frame
            self._drop_unused_denoisers()
            return EditReply(True, f"{parsed.message}; active: {self._describe()}", parsed.kind, parsed.clauses)

    def _remember(self) -> None:
        self._history.append(copy.deepcopy(self._edits))
        del self._history[:-self._max_history]

    def _drop_unused_denoisers(self) -> None:
        targets = {t for (t, axis) in self._edits if axis == DENOISE}
        for target in list(self._denoisers):
            if target not in targets:
                del self._denoisers[target]

    def _describe(self) -> str:
        if not self._edits:
            return "none (plain fusion)"
        return ", ".join(f"{axis} {value:+.1f} on {target}" for (target, axis), value in self._edits.items())

    @property
    def edits(self) -> dict[tuple[str, str], float]:
        """Active edits: (target, axis) -> signed strength (axes: inclination, exposure, denoise, highlight)."""
        with self._lock:
            return dict(self._edits)

    def status(self) -> dict[str, object]:
        """Active edits, denoise adaptation state per target, last per-frame cost."""
        with self._lock:
            prep = {}
            for target, state in self._denoisers.items():
                if state.error:
                    prep[target] = f"failed: {state.error}"
                elif state.unit is not None:
                    prep[target] = f"ready ({state.unit.fit_seconds * 1000:.0f} ms adaptation)"
                else:
                    prep[target] = "preparing"
            return {"edits": self._describe(), "denoise": prep, "last_apply_ms": self.last_apply_ms}

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Block until every started adaptation has finished; True if all succeeded (for tests and
        offline evaluation — a stream never needs to wait)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = [s.thread for s in self._denoisers.values() if s.thread is not None]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            return all(s.unit is not None for s in self._denoisers.values() if s.thread is not None)

    # -- per frame ------------------------------------------------------------------------

    def control_map(self, shape: tuple[int, int], masks: MaskSource) -> np.ndarray | None:
        """Fusion control map (float32 HxW in [-1, 1]) of the active inclination edits, or None."""
        edits = [(t, v) for (t, axis), v in self.edits.items() if axis == INCLINATION]
        if not edits:
            return None
        resolved = _Resolver(masks, shape, self._targets())
        control = np.zeros(shape, np.float32)
        for target, value in edits:
            weight = resolved.weight(target, self._feather_px(shape))
            if weight is not None:
                (rows, cols), w = weight
                control[rows, cols] += np.float32(CONTROL_PER_STRENGTH * value) * (1.0 if w is None else w)
        return np.clip(control, -1.0, 1.0, out=control)

    def render(self, ir: np.ndarray, vis: np.ndarray, masks: MaskSource, fusion) -> np.ndarray:
        """Fuse ``ir``/``vis`` with the inclination control map, then apply the pixel edits.

        The control map goes into the one fusion call the stream makes anyway, so inclination
        costs nothing extra per frame."""
        control = self.control_map(ir.shape, masks)
        fused = fusion.fuse(ir, vis, control=control) if control is not None else fusion.fuse(ir, vis)
        return self._apply_pixels(fused, masks, time.perf_counter())

    def apply(self, fused_rgb: np.ndarray, masks: MaskSource, *, ir: np.ndarray | None = None,
              vis: np.ndarray | None = None, fusion=None) -> np.ndarray:
        """Edited copy of a fused uint8 RGB frame (brighten/darken, denoise, highlight).

        Inclination edits act inside the fusion: use :meth:`render`, or pass ``ir``, ``vis`` and
        ``fusion`` here to fuse again with the control map (one extra fusion per frame); with an
        inclination edit active and none of them given this raises ConfigError."""
        start = time.perf_counter()
        if fused_rgb.ndim != 3 or fused_rgb.shape[2] != 3 or fused_rgb.dtype != np.uint8:
            raise DataError(f"fused frame must be uint8 HxWx3 RGB, got {fused_rgb.dtype} {fused_rgb.shape}")
        edits = self.edits
        shape = fused_rgb.shape[:2]
        if any(axis == INCLINATION for _, axis in edits):
            if fusion is None or ir is None or vis is None:
                raise ConfigError("an inclination edit is active: call render(ir, vis, masks, fusion), or pass "
                                  "ir, vis and fusion to apply()")
            control = self.control_map(shape, masks)
            fused_rgb = fusion.fuse(ir, vis, control=control)
        return self._apply_pixels(fused_rgb, masks, start)

    def _apply_pixels(self, fused_rgb: np.ndarray, masks: MaskSource, start: float) -> np.ndarray:
        edits = self.edits
        pixel_edits = [(t, axis, v) for (t, axis), v in edits.items() if axis != INCLINATION]
        if not pixel_edits:
            self.last_apply_ms = (time.perf_counter() - start) * 1000.0
            return fused_rgb
        with self._frame_lock:
            out = self._edit_frame(fused_rgb, masks, pixel_edits)
        self.last_apply_ms = (time.perf_counter() - start) * 1000.0
        return out

    def _frame_buffers(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Full-frame float work arrays, kept between frames: allocating ~12 MB per frame costs more
        (fresh pages from the kernel) than the edits themselves."""
        if self._buffers is None or self._buffers[1].shape != shape:
            h, w = shape
            self._buffers = (np.empty((h, w, 3), np.float32), np.empty((h, w), np.float32),
                             np.empty((h, w), np.float32), np.empty((h, w, 3), np.float32))
        return self._buffers

    def _edit_frame(self, fused_rgb: np.ndarray, masks: MaskSource,
                    pixel_edits: list[tuple[str, str, float]]) -> np.ndarray:
        shape = fused_rgb.shape[:2]
        work, luma, original, delta3 = self._frame_buffers(shape)
        work[...] = fused_rgb
        cv2.cvtColor(work, cv2.COLOR_RGB2GRAY, dst=luma)  # BT.601, the project's LUMA_WEIGHTS
        np.copyto(original, luma)
        resolved = _Resolver(masks, shape, self._targets())
        feather = self._feather_px(shape)
        for target, axis, value in pixel_edits:
            weight = resolved.weight(target, feather)
            if weight is None:
                continue
            (rows, cols), w = weight
            region = luma[rows, cols]
            if axis == DENOISE:
                unit = self._denoise_unit(target, original, rows, cols)
                if unit is None:
                    continue
                edited = region
                whole, part = int(value), value - int(value)
                for _ in range(whole):
                    edited = unit.apply(edited)
                if part > 0:
                    edited = edited + np.float32(part) * (unit.apply(edited) - edited)
            elif axis == EXPOSURE:
                edited = region * exposure_gain(work[rows, cols], value, region.shape)
            else:
                edited = highlight_luma(region, work[rows, cols], value)
            luma[rows, cols] = edited if w is None else composite(region, edited, w)
        delta = np.subtract(luma, original, out=luma)
        # Adding the same luminance change to R, G and B keeps the BT.601 chroma (B−Y, R−Y);
        # cv2.add rounds and saturates to uint8 in one pass.
        cv2.merge((delta, delta, delta), dst=delta3)
        return cv2.add(work, delta3, dtype=cv2.CV_8U)

    # -- helpers --------------------------------------------------------------------------

    def _targets(self) -> list[str]:
        return [t for t, _ in self.edits]

    def _feather_px(self, shape: tuple[int, int]) -> float:
        return self._feather_fraction * min(shape)

    def _denoise_unit(self, target: str, luma: np.ndarray, rows: slice, cols: slice) -> DenoiseUnit | None:
        """The adapted unit, or None while it is being prepared (adaptation started on this frame)."""
        with self._lock:
            state = self._denoisers.setdefault(target, _Denoiser())
            if state.unit is not None or state.error:
                return state.unit
            if state.thread is not None:
                return None
            sample = luma[rows, cols].copy()

            def adapt() -> None:
                try:
                    unit = fit_zero_shot_unit(sample)
                except Exception as exc:  # reported through status(); the stream goes on
                    with self._lock:
                        state.error = str(exc)
                    return
                with self._lock:
                    state.unit = unit

            state.thread = threading.Thread(target=adapt, name=f"denoise-adapt:{target}", daemon=True)
            state.thread.start()
        if not self._background:
            state.thread.join()
            return state.unit
        return None


class _Resolver:
    """Masks of one frame, each phrase resolved once; ``background`` built from the others."""

    def __init__(self, masks: MaskSource, shape: tuple[int, int], targets: list[str]) -> None:
        self._source = masks
        self._shape = shape
        self._targets = targets
        self._cache: dict[str, np.ndarray | None] = {}
        self._weights: dict[str, tuple[tuple[slice, slice], np.ndarray | None] | None] = {}

    def mask(self, phrase: str) -> np.ndarray | None:
        if phrase in self._cache:
            return self._cache[phrase]
        if phrase == EVERYTHING:
            mask = np.ones(self._shape, bool)
        elif phrase == BACKGROUND:
            objects = np.zeros(self._shape, bool)
            for other in [OBJECTS, *self._targets]:
                if other not in (EVERYTHING, BACKGROUND):
                    found = self.mask(other)
                    if found is not None:
                        objects |= found
            mask = ~objects
        else:
            raw = self._source.get(phrase) if isinstance(self._source, Mapping) else self._source(phrase)
            mask = None if raw is None else as_bool_mask(raw, self._shape, phrase)
        if mask is not None and not mask.any():
            mask = None
        self._cache[phrase] = mask
        return mask

    def weight(self, phrase: str, feather_px: float) -> tuple[tuple[slice, slice], np.ndarray | None] | None:
        """(bounding box, feathered weight inside it; None = the whole frame at full weight) of a
        target, or None when it is not in the frame."""
        if phrase in self._weights:
            return self._weights[phrase]
        mask = None if phrase == EVERYTHING else self.mask(phrase)
        if phrase == EVERYTHING or (mask is not None and mask.all()):
            self._weights[phrase] = (slice(None), slice(None)), None
            return self._weights[phrase]
        if mask is None:
            self._weights[phrase] = None
            return None
        box = bounding_box(mask)
        assert box is not None
        margin = int(np.ceil(1.5 * feather_px)) + 1
        rows = slice(max(0, box[0].start - margin), min(self._shape[0], box[0].stop + margin))
        cols = slice(max(0, box[1].start - margin), min(self._shape[1], box[1].stop + margin))
        self._weights[phrase] = (rows, cols), feathered_weight(mask[rows, cols], feather_px)
        return self._weights[phrase]
