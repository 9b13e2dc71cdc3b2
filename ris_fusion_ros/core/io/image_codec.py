"""``sensor_msgs/Image`` fields <-> numpy arrays, without cv_bridge (it cannot be installed from PyPI).

The functions take the message's plain fields (``height, width, encoding, is_bigendian, step,
data``) so the core never needs a ROS type; :func:`message_to_array` reads them from any object
that has them (an rclpy ``sensor_msgs.msg.Image`` or a rosbags message).

Decoded arrays are HxW (one channel) or HxWxC, in the encoding's own channel order (a ``bgr8``
image stays BGR: reordering is :func:`to_rgb8`'s job and happens only when asked), in native
byte order, C-contiguous, writable and never sharing memory with the message buffer (drivers
reuse it, and rosbags/rclpy buffers may be read-only).
"""

from __future__ import annotations

from array import array as PyArray
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import DataError


class ImageFormatError(DataError):
    """An image message or array does not fit its encoding (size, step, dtype, channels)."""


@dataclass(frozen=True)
class EncodingInfo:
    """What one ROS encoding means as a numpy array."""

    name: str
    dtype: np.dtype
    channels: int
    order: str  # channel order: "L" (one channel), "RGB", "BGR", "RGBA" or "BGRA"

    @property
    def pixel_bytes(self) -> int:
        return self.channels * self.dtype.itemsize


def _enc(name: str, dtype: str, channels: int, order: str) -> EncodingInfo:
    return EncodingInfo(name, np.dtype(dtype), channels, order)


# 8UC1/8UC3/8UC4 follow cv_bridge: their channels are taken as mono / BGR / BGRA.
ENCODINGS: dict[str, EncodingInfo] = {
    info.name: info
    for info in (
        _enc("mono8", "uint8", 1, "L"),
        _enc("8UC1", "uint8", 1, "L"),
        _enc("mono16", "uint16", 1, "L"),
        _enc("16UC1", "uint16", 1, "L"),
        _enc("32FC1", "float32", 1, "L"),
        _enc("rgb8", "uint8", 3, "RGB"),
        _enc("bgr8", "uint8", 3, "BGR"),
        _enc("8UC3", "uint8", 3, "BGR"),
        _enc("rgba8", "uint8", 4, "RGBA"),
        _enc("bgra8", "uint8", 4, "BGRA"),
        _enc("8UC4", "uint8", 4, "BGRA"),
    )
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(ENCODINGS)
_TO_RGB = {
    "L": cv2.COLOR_GRAY2RGB,
    "BGR": cv2.COLOR_BGR2RGB,
    "RGBA": cv2.COLOR_RGBA2RGB,
    "BGRA": cv2.COLOR_BGRA2RGB,
}

_MESSAGE_FIELDS = ("height", "width", "encoding", "is_bigendian", "step", "data")


def encoding_info(encoding: str) -> EncodingInfo:
    """Look an encoding up; an unknown one raises with the list of supported encodings."""
    if not isinstance(encoding, str):
        raise ImageFormatError(f"image encoding must be a string, got {type(encoding).__name__}")
    try:
        return ENCODINGS[encoding]
    except KeyError:
        hint = ""
        close = [name for name in ENCODINGS if name.lower() == encoding.strip().lower()]
        if close:
            hint = f" (encodings are case-sensitive: did you mean '{close[0]}'?)"
        raise ImageFormatError(
            f"unsupported image encoding {encoding!r}{hint}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        ) from None


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ImageFormatError(f"image field '{name}' must be an integer, got {value!r}")
    return int(value)


def _as_bytes_array(data: Any) -> np.ndarray:
    """A flat uint8 view of the message's data field, whatever container it came in."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageFormatError(f"image data must be bytes or a uint8 array, got a {data.dtype} array")
        return data.reshape(-1)
    if isinstance(data, (list, tuple)):
        values = np.asarray(data).reshape(-1)  # checked before the cast: numpy 1.x would wrap 300 to 44
        if values.size and (values.dtype.kind not in "iu" or values.min() < 0 or values.max() > 255):
            raise ImageFormatError("image data list must hold integers 0-255")
        return values.astype(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        raise ImageFormatError(
            f"image data must be bytes, bytearray, array('B') or a uint8 array, got {type(data).__name__}"
        ) from None


def image_to_array(
    height: int, width: int, encoding: str, is_bigendian: int | bool, step: int, data: Any
) -> np.ndarray:
    """Decode the fields of a ``sensor_msgs/Image`` into an HxW or HxWxC array.

    Row padding (``step`` larger than one row of pixels) is removed, and big-endian 16/32-bit data
    is converted to native byte order. Raises :class:`ImageFormatError` for an unknown encoding,
    a zero size, a ``step`` shorter than a row, or a data length other than ``step * height``.
    """
    info = encoding_info(encoding)
    height = _as_int(height, "height")
    width = _as_int(width, "width")
    step = _as_int(step, "step")
    if is_bigendian not in (0, 1):  # also accepts True/False and numpy integers
        raise ImageFormatError(f"is_bigendian must be 0 or 1, got {is_bigendian!r}")
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"{encoding} image has zero size ({width}x{height} WxH); nothing to decode")
    row_bytes = width * info.pixel_bytes
    if step < row_bytes:
        raise ImageFormatError(
            f"step {step} is shorter than one row of a {width}-pixel-wide {encoding} image "
            f"({width} x {info.pixel_bytes} bytes = {row_bytes})"
        )
    raw = _as_bytes_array(data)
    if raw.size != step * height:
        raise ImageFormatError(
            f"{encoding} image data holds {raw.size} bytes but step x height = {step} x {height} = {step * height}"
        )
    rows = raw.reshape(height, step)[:, :row_bytes]
    dtype = info.dtype
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">" if is_bigendian else "<")
    # The copy drops the padding, detaches from the message buffer and aligns the rows.
    pixels = np.ascontiguousarray(rows).view(dtype).astype(info.dtype, copy=False)
    if np.may_share_memory(pixels, raw):
        pixels = pixels.copy()
    shape = (height, width) if info.channels == 1 else (height, width, info.channels)
    return pixels.reshape(shape)


def message_to_array(msg: Any) -> np.ndarray:
    """Decode any object with ``sensor_msgs/Image`` attributes (rclpy or rosbags message)."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        raise ImageFormatError("got a CompressedImage-like message; only raw sensor_msgs/Image is supported")
    missing = [name for name in _MESSAGE_FIELDS if not hasattr(msg, name)]
    if missing:
        raise ImageFormatError(
            f"{type(msg).__name__} object is not a sensor_msgs/Image: missing attribute(s) {', '.join(missing)}"
        )
    return image_to_array(*(getattr(msg, name) for name in _MESSAGE_FIELDS))


def _check_array(array: Any, info: EncodingInfo) -> np.ndarray:
    """Check that an array can be sent as ``info``'s encoding; return it as HxW or HxWxC."""
    if not isinstance(array, np.ndarray):
        raise ImageFormatError(f"expected a numpy array for a {info.name} image, got {type(array).__name__}")
    if array.dtype != info.dtype:
        raise ImageFormatError(
            f"{info.name} needs a {info.dtype} array, got {array.dtype}; convert it explicitly "
            f"(e.g. array.astype(np.{info.dtype})) or pick the encoding that matches"
        )
    if info.channels == 1 and array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    expected = "HxW" if info.channels == 1 else f"HxWx{info.channels}"
    ok_ndim = array.ndim == 2 if info.channels == 1 else array.ndim == 3 and array.shape[2] == info.channels
    if not ok_ndim:
        raise ImageFormatError(f"{info.name} needs an {expected} array, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageFormatError(f"{info.name} array has zero size (shape {array.shape})")
    return array


def array_to_image_fields(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """Encode an array as ``sensor_msgs/Image`` fields (little-endian, no row padding).

    The dtype and shape must already fit the encoding: nothing is cast or reordered silently.
    Returns ``dict(height, width, encoding, is_bigendian=0, step, data=array('B'))``: rclpy's
    generated setter takes an ``array('B')`` as is, while bytes are checked value by value
    (about 15 ms for one 640x480 RGB image).
    """
    info = encoding_info(encoding)
    array = _check_array(array, info)
    height, width = array.shape[:2]
    little = array.astype(info.dtype.newbyteorder("<"), copy=False)
    return {
        "height": int(height),
        "width": int(width),
        "encoding": encoding,
        "is_bigendian": 0,
        "step": int(width * info.pixel_bytes),
        "data": PyArray("B", np.ascontiguousarray(little).tobytes()),
    }


def to_rgb8(array: np.ndarray, encoding: str) -> np.ndarray:
    """Any mono or colour image as a new HxWx3 uint8 RGB array, for display and fusion.

    mono8 is replicated into three channels, BGR(A) is swapped, alpha is dropped, and mono16 is
    scaled by 255/65535 with rounding (cv_bridge's rule). 16UC1 and 32FC1 have no defined
    intensity range (depth, radiometric counts, kelvin...), so they raise: normalise them first,
    e.g. with :class:`ris_fusion_ros.core.io.thermal.ThermalNormalizer`.
    """
    info = encoding_info(encoding)
    if info.name in ("16UC1", "32FC1"):
        raise ImageFormatError(
            f"{encoding} has no display range; normalise it to uint8 first (ThermalNormalizer) "
            "and convert the result as mono8"
        )
    array = _check_array(array, info)
    if info.dtype == np.uint16:
        array = np.rint(array.astype(np.float32) * np.float32(255.0 / 65535.0)).astype(np.uint8)
    if info.order == "RGB":
        return array.copy()  # always a new array, like the other branches
    # OpenCV's channel shuffles are several times faster than numpy's strided copies (and copy too).
    return cv2.cvtColor(np.ascontiguousarray(array), _TO_RGB[info.order])
