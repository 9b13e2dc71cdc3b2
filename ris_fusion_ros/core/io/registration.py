"""Thermal -> RGB registration with a fixed homography (the two cameras side by side, far scene).

The homography ``H`` maps thermal pixel coordinates to RGB pixel coordinates
(``[x_rgb, y_rgb, 1]^T ~ H [x_th, y_th, 1]^T``, pixel centres at integers, OpenCV's convention), so
:meth:`Registration.warp` returns the thermal image resampled in the RGB camera's frame and size,
ready to fuse pixel by pixel. A homography is only valid for the resolutions it was estimated at,
so a calibration file states both and frames of another size are refused rather than misaligned.

Calibration file (YAML; sizes are ``[width, height]`` as OpenCV and camera_info write them)::

    homography: [h11, h12, h13, h21, h22, h23, h31, h32, h33]   # or 3 rows of 3
    thermal_size: [640, 512]
    rgb_size: [1280, 1024]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..config import load_yaml
from ..errors import ConfigError, DataError

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
}
CALIBRATION_KEYS = {"homography", "thermal_size", "rgb_size"}
_MAX_CONDITION = 1e12  # beyond this the homography is numerically singular
_CV_MAX_SIDE = 32767  # cv2.warpPerspective refuses larger images
_WARP_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


def _parse_homography(value: Any, source: str) -> np.ndarray:
    try:
        matrix = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: homography must be 9 numbers or 3 rows of 3 numbers ({exc})") from None
    if matrix.shape == (9,):
        matrix = matrix.reshape(3, 3)
    if matrix.shape != (3, 3):
        raise ConfigError(f"{source}: homography must be 9 numbers or 3 rows of 3, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ConfigError(f"{source}: homography has non-finite entries: {matrix.tolist()}")
    if np.linalg.cond(matrix) > _MAX_CONDITION:
        raise ConfigError(f"{source}: homography is singular (not invertible): {matrix.tolist()}")
    if matrix[2, 2] != 0:
        matrix = matrix / matrix[2, 2]  # same mapping; makes the identity test scale-free
    return matrix


def _parse_size(value: Any, name: str, source: str) -> tuple[int, int] | None:
    if value is None:
        return None
    ok = (
        isinstance(value, (Sequence, np.ndarray))
        and not isinstance(value, str)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value)
    )
    if not ok:
        raise ConfigError(f"{source}: {name} must be [width, height] as two positive integers, got {value!r}")
    return int(value[0]), int(value[1])


class Registration:
    """A fixed thermal -> RGB homography with the frame sizes it belongs to."""

    def __init__(
        self,
        homography: Any,
        *,
        thermal_size: Sequence[int] | None = None,
        rgb_size: Sequence[int] | None = None,
        interpolation: str = "linear",
        source: str = "registration",
    ) -> None:
        """``homography``: 9 numbers or 3x3; sizes are ``(width, height)``, None = not checked."""
        self.source = source
        self.homography = _parse_homography(homography, source)
        self.thermal_size = _parse_size(thermal_size, "thermal_size", source)
        self.rgb_size = _parse_size(rgb_size, "rgb_size", source)
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f"{source}: interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
        self.interpolation = interpolation
        self.is_identity = bool(np.allclose(self.homography, np.eye(3), rtol=0.0, atol=1e-12))
        if self.thermal_size is not None:
            self._check_no_horizon(self.thermal_size)

    @classmethod
    def identity(cls, **kwargs: Any) -> Registration:
        """Cameras already aligned (or one sensor): warp is a pass-through when sizes match."""
        return cls(np.eye(3), **kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path, *, interpolation: str = "linear") -> Registration:
        """Read a calibration file (see the module docstring); every key is required."""
        data = load_yaml(path, known_keys=CALIBRATION_KEYS)
        missing = sorted(CALIBRATION_KEYS - set(data))
        if missing:
            raise ConfigError(f"calibration file {path} lacks {missing}; it needs {sorted(CALIBRATION_KEYS)}")
        return cls(
            data["homography"],
            thermal_size=data["thermal_size"],
            rgb_size=data["rgb_size"],
            interpolation=interpolation,
            source=f"calibration file {path}",
        )

    def _check_no_horizon(self, size: tuple[int, int]) -> None:
        """A homography whose line at infinity crosses the thermal frame would fold it: refuse it."""
        width, height = size
        corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], float)
        w = corners @ self.homography[2]
        if not ((w > 0).all() or (w < 0).all()):
            raise ConfigError(
                f"{self.source}: homography sends part of the {width}x{height} thermal frame to infinity "
                "(its third row changes sign over the frame); check the calibration"
            )

    def warp(self, thermal: np.ndarray, rgb_shape: Sequence[int]) -> np.ndarray:
        """The thermal frame resampled into the RGB frame (``rgb_shape`` = (H, W) or (H, W, C)).

        Pixels that fall outside the thermal image are 0. The identity with equal sizes returns
        ``thermal`` itself (no copy). Raises DataError when a size differs from the calibration.
        """
        return self._warp(thermal, rgb_shape, INTERPOLATIONS[self.interpolation])

    def _warp(self, thermal: np.ndarray, rgb_shape: Sequence[int], flags: int) -> np.ndarray:
        if not isinstance(thermal, np.ndarray) or thermal.ndim not in (2, 3) or 0 in thermal.shape[:2]:
            shape = getattr(thermal, "shape", type(thermal).__name__)
            raise DataError(f"thermal frame must be an HxW or HxWxC array, got {shape}")
        try:
            out_h, out_w = (int(v) for v in tuple(rgb_shape)[:2])
        except (TypeError, ValueError):
            raise DataError(f"rgb_shape must be (height, width[, channels]), got {rgb_shape!r}") from None
        if out_h <= 0 or out_w <= 0:
            raise DataError(f"rgb_shape must have a positive height and width, got {tuple(rgb_shape)}")
        th_h, th_w = thermal.shape[:2]
        if self.thermal_size is not None and (th_w, th_h) != self.thermal_size:
            raise DataError(
                f"thermal frame is {th_w}x{th_h} (WxH) but {self.source} was calibrated for "
                f"{self.thermal_size[0]}x{self.thermal_size[1]}; recalibrate or resize the thermal stream"
            )
        if self.rgb_size is not None and (out_w, out_h) != self.rgb_size:
            raise DataError(
                f"RGB frame is {out_w}x{out_h} (WxH) but {self.source} was calibrated for "
                f"{self.rgb_size[0]}x{self.rgb_size[1]}; recalibrate or resize the RGB stream"
            )
        if self.is_identity and (th_h, th_w) == (out_h, out_w):
            return thermal
        if self.thermal_size is None:
            self._check_no_horizon((th_w, th_h))
        if thermal.dtype not in _WARP_DTYPES:
            names = [np.dtype(d).name for d in _WARP_DTYPES]
            raise DataError(f"cannot warp a {thermal.dtype} image; use one of {names}")
        if thermal.ndim == 3 and thermal.shape[2] > 4:
            raise DataError(f"cannot warp an image with {thermal.shape[2]} channels (at most 4)")
        if max(th_h, th_w, out_h, out_w) > _CV_MAX_SIDE:
            raise DataError(f"images larger than {_CV_MAX_SIDE} pixels on a side cannot be warped")
        warped = cv2.warpPerspective(
            np.ascontiguousarray(thermal),
            self.homography,
            (out_w, out_h),
            flags=flags,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        if thermal.ndim == 3 and warped.ndim == 2:  # OpenCV drops a trailing single channel
            warped = warped[:, :, None]
        return warped

    def coverage(self, rgb_shape: Sequence[int]) -> np.ndarray:
        """Boolean HxW mask of the RGB pixels that the thermal frame covers (needs thermal_size)."""
        if self.thermal_size is None:
            raise ConfigError(f"{self.source}: coverage needs thermal_size")
        width, height = self.thermal_size
        ones = np.full((height, width), 255, np.uint8)
        return self._warp(ones, rgb_shape, cv2.INTER_NEAREST) > 0
