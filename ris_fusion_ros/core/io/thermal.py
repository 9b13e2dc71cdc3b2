"""Thermal frames (uint8, uint16 counts, float32 kelvin/celsius) to uint8 for fusion.

Two modes:

* ``fixed``: ``[fixed_min, fixed_max]`` maps linearly onto 0-255 with clipping. Radiometric
  cameras give stable counts/temperatures, so a fixed window keeps one temperature one grey level.
* ``percentile``: a robust per-frame window (``low_percentile``..``high_percentile`` of the finite
  pixels), smoothed over frames with an exponential moving average so that a hot object entering
  the view does not make the whole image flicker. :meth:`ThermalNormalizer.reset` forgets it
  (call it after a seek in a bag or a camera restart).

uint8 input in percentile mode passes through unchanged by default (``uint8_passthrough``): an
8-bit thermal stream (``mono8``) has already been through the camera's AGC, and stretching it
again would fight that AGC and amplify its noise. Fixed mode always applies its window.

Non-finite pixels (NaN, +-inf: dead pixels, masked areas) are left out of the statistics, come
out as 0 and are counted (:attr:`ThermalNormalizer.last_stats`, ``total_nonfinite``) so a node can
report them. A window of zero width (a constant frame, e.g. a closed shutter during NUC) never
divides by zero: values equal to the window come out mid-grey (128), values below 0, above 255.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError

MODES = ("percentile", "fixed")


@dataclass
class ThermalNormalization:
    """Settings of :class:`ThermalNormalizer` (see the module docstring for the meaning)."""

    mode: str = "percentile"
    fixed_min: float | None = None  # input units (counts, kelvin...), fixed mode only
    fixed_max: float | None = None
    low_percentile: float = 1.0  # 0-100, percentile mode only
    high_percentile: float = 99.0
    smoothing: float = 0.9  # EMA weight of the previous window, 0 (none) <= s < 1
    min_span: float = 0.0  # smallest window width (input units): keeps a uniform scene from becoming full-range noise
    uint8_passthrough: bool = True  # percentile mode: mono8 frames are already AGC'd

    def validate(self) -> ThermalNormalization:
        """Raise ConfigError naming the bad field; return self so calls can chain."""
        if self.mode not in MODES:
            raise ConfigError(f"thermal normalisation mode must be one of {list(MODES)}, got {self.mode!r}")
        if self.mode == "fixed":
            if self.fixed_min is None or self.fixed_max is None:
                raise ConfigError("thermal normalisation mode 'fixed' needs both fixed_min and fixed_max")
            for name in ("fixed_min", "fixed_max"):
                _check_finite(getattr(self, name), name)
            if not self.fixed_max > self.fixed_min:
                raise ConfigError(
                    f"fixed_max ({self.fixed_max}) must be greater than fixed_min ({self.fixed_min})"
                )
        for name in ("low_percentile", "high_percentile"):
            value = _check_finite(getattr(self, name), name)
            if not 0.0 <= value <= 100.0:
                raise ConfigError(f"{name} must be within 0-100, got {value}")
        if not self.low_percentile < self.high_percentile:
            raise ConfigError(
                f"low_percentile ({self.low_percentile}) must be below high_percentile ({self.high_percentile})"
            )
        smoothing = _check_finite(self.smoothing, "smoothing")
        if not 0.0 <= smoothing < 1.0:
            raise ConfigError(f"smoothing must be in [0, 1) (0 = no smoothing; 1 would freeze), got {smoothing}")
        if _check_finite(self.min_span, "min_span") < 0:
            raise ConfigError(f"min_span must be >= 0, got {self.min_span}")
        if not isinstance(self.uint8_passthrough, bool):
            raise ConfigError(f"uint8_passthrough must be true or false, got {self.uint8_passthrough!r}")
        return self


def _check_finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ConfigError(f"{name} must be finite, got {value}")
    return float(value)


@dataclass(frozen=True)
class NormalizationStats:
    """What the last :meth:`ThermalNormalizer.normalize` call did, for diagnostics."""

    low: float | None  # window applied (after smoothing), input units; None when passed through
    high: float | None
    frame_low: float | None  # this frame's own percentiles (percentile mode), None otherwise
    frame_high: float | None
    nonfinite_pixels: int
    passthrough: bool


class ThermalNormalizer:
    """Stateful thermal -> uint8 mapping; one instance per thermal stream."""

    def __init__(self, config: ThermalNormalization | None = None) -> None:
        self.config = (config or ThermalNormalization()).validate()
        self._window: tuple[float, float] | None = None
        self.last_stats: NormalizationStats | None = None
        self.total_nonfinite = 0
        self.frames = 0

    def reset(self) -> None:
        """Forget the smoothed window (after a seek, a camera restart or a config change)."""
        self._window = None

    @property
    def window(self) -> tuple[float, float] | None:
        """The smoothed (low, high) window of percentile mode, None before the first frame."""
        return self._window

    def normalize(self, frame: np.ndarray) -> np.ndarray:
        """Map one HxW thermal frame (uint8, uint16, int16, float32/64) to a new HxW uint8 array."""
        frame = _check_frame(frame)
        cfg = self.config
        self.frames += 1
        if cfg.mode == "percentile" and frame.dtype == np.uint8 and cfg.uint8_passthrough:
            self.last_stats = NormalizationStats(None, None, None, None, 0, True)
            return frame.copy()

        finite_mask: np.ndarray | None = None
        nonfinite = 0
        if frame.dtype.kind == "f":
            finite = np.isfinite(frame)
            nonfinite = int(frame.size - np.count_nonzero(finite))
            if nonfinite:
                finite_mask = finite
        self.total_nonfinite += nonfinite

        frame_low = frame_high = None
        if cfg.mode == "fixed":
            low, high = float(cfg.fixed_min), float(cfg.fixed_max)  # type: ignore[arg-type]
        else:
            values = frame if finite_mask is None else frame[finite_mask]
            if values.size:
                frame_low, frame_high = (
                    float(v) for v in np.percentile(values, [cfg.low_percentile, cfg.high_percentile])
                )
                if self._window is None:
                    self._window = (frame_low, frame_high)
                else:
                    s = cfg.smoothing
                    old_low, old_high = self._window
                    self._window = (s * old_low + (1 - s) * frame_low, s * old_high + (1 - s) * frame_high)
            if self._window is None:  # nothing finite seen yet: no window to apply
                self.last_stats = NormalizationStats(None, None, None, None, nonfinite, False)
                return np.zeros(frame.shape, np.uint8)
            low, high = self._window

        out = _apply_window(frame, low, high, cfg.min_span)
        if finite_mask is not None:
            out[~finite_mask] = 0
        self.last_stats = NormalizationStats(low, high, frame_low, frame_high, nonfinite, False)
        return out

    __call__ = normalize


def _check_frame(frame: object) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise DataError(f"thermal frame must be a numpy array, got {type(frame).__name__}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim != 2:
        raise DataError(
            f"thermal frame must be single-channel HxW, got shape {frame.shape}; "
            "a false-colour or 3-channel thermal stream has to be converted to one channel first"
        )
    if frame.size == 0:
        raise DataError(f"thermal frame has zero size (shape {frame.shape})")
    if frame.dtype.kind not in "uif" or frame.dtype.itemsize > 8:
        raise DataError(f"thermal frame must hold integers or floats, got dtype {frame.dtype}")
    return frame


def _apply_window(frame: np.ndarray, low: float, high: float, min_span: float) -> np.ndarray:
    """Linear map of [low, high] onto 0-255 with clipping, rounded; widens windows under min_span."""
    span = high - low
    if span < min_span:
        centre = (low + high) / 2.0
        low, span = centre - min_span / 2.0, min_span
    values = frame.astype(np.float64 if frame.dtype.itemsize > 4 else np.float32)
    if span <= 0.0:  # constant frame, no min_span: a step at the window instead of a division by zero
        out = np.where(values > low, 255, np.where(values < low, 0, 128)).astype(np.uint8)
        return out
    scale = 255.0 / span
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf are overwritten by the caller
        mapped = (values - low) * scale  # a Python float keeps float32 arrays float32 (numpy 1.24 and 2.x)
        np.clip(mapped, 0.0, 255.0, out=mapped)
        np.rint(mapped, out=mapped)
        return np.nan_to_num(mapped, nan=0.0).astype(np.uint8)
