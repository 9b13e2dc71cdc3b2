"""The ROS-free pipeline shared by the nodes and the offline replay: pairing -> fusion -> detection
-> referring, with the operator's text, overlays and bag I/O (rosbags; no ROS installation needed)."""

from __future__ import annotations

from .config import DEFAULTS, load_node_params, merged
from .edit import EditStage, EditUpdate
from .pipeline import FrameResult, Pipeline
from .stages import (
    RGB_ENCODINGS,
    THERMAL_ENCODINGS,
    DecodedImage,
    DetectionStage,
    FusedFrame,
    FusionStage,
    ReferringStage,
    StageError,
    decode_image,
    empty_selection,
)
from .text import ActiveText, TextUpdate, parse_text_at

__all__ = [
    "DEFAULTS",
    "RGB_ENCODINGS",
    "THERMAL_ENCODINGS",
    "ActiveText",
    "DecodedImage",
    "DetectionStage",
    "EditStage",
    "EditUpdate",
    "FrameResult",
    "FusedFrame",
    "FusionStage",
    "Pipeline",
    "ReferringStage",
    "StageError",
    "TextUpdate",
    "decode_image",
    "empty_selection",
    "load_node_params",
    "merged",
    "parse_text_at",
]
