"""Sensor I/O for the ROS-free core: image message fields <-> numpy, thermal normalisation,
thermal/RGB stamp pairing and thermal -> RGB registration, and the CSV log training writes as it goes.
Never imports rclpy or message packages."""

from __future__ import annotations

from .image_codec import (
    SUPPORTED_ENCODINGS,
    ImageFormatError,
    array_to_image_fields,
    encoding_info,
    image_to_array,
    message_to_array,
    to_rgb8,
)
from .registration import Registration
from .sync import (
    ApproximateTimeSync,
    StreamStats,
    SyncConfig,
    SyncedPair,
    SyncStats,
    header_stamp_ns,
    stamp_to_ns,
)
from .thermal import NormalizationStats, ThermalNormalization, ThermalNormalizer

__all__ = [
    "SUPPORTED_ENCODINGS",
    "ApproximateTimeSync",
    "ImageFormatError",
    "NormalizationStats",
    "Registration",
    "StreamStats",
    "SyncConfig",
    "SyncStats",
    "SyncedPair",
    "ThermalNormalization",
    "ThermalNormalizer",
    "array_to_image_fields",
    "encoding_info",
    "header_stamp_ns",
    "image_to_array",
    "message_to_array",
    "stamp_to_ns",
    "to_rgb8",
]
