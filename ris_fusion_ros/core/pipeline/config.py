"""Pipeline settings from flat name -> value mappings: the nodes' parameter values and the replay's YAML.

The keys are the ROS parameter names of the nodes (``thermal_normalization``, ``sync_slop_seconds``,
``fusion_method``, ``detector``, ...), so ``ris-fusion replay --params config/pipeline.yaml`` reads the
same file the nodes are launched with, and what is evaluated offline is what runs on the robot.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..detection.types import DEFAULT_DETECTOR
from ..errors import ConfigError
from ..io.registration import Registration
from ..io.sync import SyncConfig
from ..io.thermal import ThermalNormalization
from ..referring.operating_point import AUTO, AUTO_SCORE, OperatingPoint, resolve_operating_point

IDENTITY = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]

#: Defaults of every key the pipeline reads (the nodes declare parameters with these defaults).
DEFAULTS: dict[str, Any] = {
    "fusion_method": "risfusenet",
    "backend": "onnxruntime",
    "device": "cpu",
    "threads": 2,
    "thermal_normalization": "percentile",
    "thermal_min": 0.0,
    "thermal_max": 65535.0,
    "thermal_low_percentile": 1.0,
    "thermal_high_percentile": 99.0,
    "thermal_smoothing": 0.9,
    "sync_queue_size": 10,
    "sync_slop_seconds": 0.05,
    "thermal_offset_seconds": 0.0,
    "stall_timeout_seconds": 2.0,
    "homography": IDENTITY,
    "calibration_file": "",
    "detector": DEFAULT_DETECTOR,
    "imgsz": 0,  # detector letterbox size; 0 = the model's own (ONNX metadata, else 640)
    # -1 / "auto": the detector's operating point (core/referring/operating_point.py; yolox-nano-msrs: 0.35, no
    # second look, thermal stream on; other detectors: 0.25, second look 0.15, thermal stream off)
    "min_score": AUTO_SCORE,  # detections below are dropped (published and referred)
    "second_look_score": AUTO_SCORE,  # referring: a category text that matched nothing >= min_score looks down to this
    "thermal_stream": AUTO,  # referring: also detect people on the thermal frame and merge them (one more run)
    "score_margin": AUTO_SCORE,  # referring: detections within min_score +- this are weighed as uncertain; 0 = off
    "max_text_length": 1024,
    "default_text": "",
    "use_thermal": True,
    "person_min_thermal_contrast": 15.0,  # person boxes not warmer than their surroundings are not referred
    "feedback_strength": 0.0,  # referred mask of frame t -> fusion control of frame t+1; 0 = off, range [0, 1]
    "search": "off",  # referring: a no-match for people/cars/bicycles looks again at a fused (fusion) or source view
    "publish_markers": True,  # RViz MarkerArrays of the detections and of the referred object
    "marker_depth_meters": 5.0,  # the image plane the markers are drawn on, in front of the camera
}


def thermal_config(values: Mapping[str, Any]) -> ThermalNormalization:
    """The core thermal settings from the parameter values (ConfigError when invalid)."""
    return ThermalNormalization(
        mode=values["thermal_normalization"], fixed_min=values["thermal_min"], fixed_max=values["thermal_max"],
        low_percentile=values["thermal_low_percentile"], high_percentile=values["thermal_high_percentile"],
        smoothing=values["thermal_smoothing"],
    ).validate()


def operating_point_config(values: Mapping[str, Any]) -> OperatingPoint:
    """The detection / referring scores and thermal stream from the parameter values ("auto": the detector's)."""
    return resolve_operating_point(values["detector"], values["min_score"], values["second_look_score"],
                                   values["thermal_stream"], score_margin=values["score_margin"])


def sync_config(values: Mapping[str, Any]) -> SyncConfig:
    """The core sync settings from the parameter values (ConfigError when invalid)."""
    return SyncConfig(
        queue_size=values["sync_queue_size"], slop_seconds=values["sync_slop_seconds"],
        offset_ns=round(values["thermal_offset_seconds"] * 1e9),
        stall_timeout_seconds=values["stall_timeout_seconds"],
    ).validate()


def registration_config(values: Mapping[str, Any]) -> tuple[Registration, bool]:
    """(registration, check_sizes): a calibration file wins over the homography parameter; with the
    identity homography and no file, thermal and RGB must have the same size (checked per frame)."""
    if values.get("calibration_file"):
        return Registration.from_yaml(values["calibration_file"]), False
    registration = Registration(values["homography"], source="parameter homography")
    return registration, registration.is_identity


def merged(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULTS with ``values`` applied; unknown keys are an error naming them (typos must not pass)."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(DEFAULTS) - _NODE_ONLY_KEYS)
    if unknown:
        raise ConfigError(f"unknown pipeline parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(DEFAULTS))}")
    out = dict(DEFAULTS)
    out.update({k: v for k, v in values.items() if k in DEFAULTS})
    return out


# keys of the node YAML files that only matter to a live node (QoS, timers, drawing); replay ignores them
_NODE_ONLY_KEYS = {"autostart", "diagnostics_period_seconds", "publish_overlay", "overlay_alpha", "use_sim_time",
                   "qos_overrides", "thermal_wait_seconds"}


def load_node_params(path: str | Path) -> dict[str, Any]:
    """Flatten a ROS 2 parameter YAML (``/**:`` or ``<node>:`` -> ``ros__parameters``) into one mapping.

    Every node section is merged in file order, so one pipeline file configures all three nodes.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read parameter file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of node names to 'ros__parameters'")
    values: dict[str, Any] = {}
    for node, section in data.items():
        if not isinstance(section, dict) or "ros__parameters" not in section:
            raise ConfigError(f"{path}: section {node!r} has no 'ros__parameters' mapping")
        params = section["ros__parameters"] or {}
        values.update({k: v for k, v in params.items() if k not in _NODE_ONLY_KEYS})
    return values
