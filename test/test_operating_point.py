"""Per-detector operating points (core/referring/operating_point.py) and the commands that default to them."""

from __future__ import annotations

import argparse

import pytest

from ris_fusion_ros.core.errors import ConfigError
from ris_fusion_ros.core.pipeline.config import merged, operating_point_config
from ris_fusion_ros.core.referring.operating_point import (
    GENERIC,
    OperatingPoint,
    detector_operating_point,
    resolve_operating_point,
)


def test_the_default_detector_has_its_chosen_point_and_every_other_detector_the_generic_one():
    assert detector_operating_point("yolox-nano-msrs") == OperatingPoint(0.35, None, True, 0.2)
    assert detector_operating_point(" YOLOX-Nano-MSRS ") == OperatingPoint(0.35, None, True, 0.2)
    for other in ("yolox-nano", "yolov5n", "my_model.onnx", "a.onnx+b.onnx"):
        assert detector_operating_point(other) == GENERIC == OperatingPoint(0.25, 0.15, False)


def test_auto_values_take_the_detectors_point_and_explicit_values_win():
    assert resolve_operating_point("yolox-nano-msrs") == OperatingPoint(0.35, None, True, 0.2)
    assert resolve_operating_point("yolov5n") == OperatingPoint(0.25, 0.15, False)
    assert resolve_operating_point("yolox-nano-msrs", 0.3, 0.1, "off", score_margin=0) == \
        OperatingPoint(0.3, 0.1, False)
    assert resolve_operating_point("yolov5n", None, None, True) == OperatingPoint(0.25, None, True)  # None: no look
    assert resolve_operating_point("yolov5n", 0.2, 0.3, "auto").second_look_score is None  # >= the floor: off
    assert resolve_operating_point("yolox-nano-msrs", thermal_stream="false").thermal_stream is False
    with pytest.raises(ConfigError, match="thermal_stream must be auto, on or off"):
        resolve_operating_point("yolov5n", thermal_stream="sometimes")
    with pytest.raises(ConfigError, match="min_score"):
        resolve_operating_point("yolov5n", 1.5)


def test_pipeline_and_replay_defaults_are_the_default_detectors_point():
    assert operating_point_config(merged()) == OperatingPoint(0.35, None, True, 0.2)
    assert operating_point_config(merged({"detector": "yolox-nano"})) == GENERIC
    explicit = merged({"min_score": 0.5, "thermal_stream": False})
    assert operating_point_config(explicit) == OperatingPoint(0.5, None, False, 0.2)


def _refer_args(**given) -> argparse.Namespace:
    from ris_fusion_ros.commands import refer_batch

    parser = argparse.ArgumentParser()
    refer_batch.add_arguments(parser)
    argv = ["--expressions", "x.json", "--out", "o"]
    for key, value in given.items():
        argv += [f"--{key.replace('_', '-')}", *([] if value is None else [str(value)])]
    return parser.parse_args(argv)


def test_refer_batch_defaults_to_the_detectors_point_and_drops_the_thermal_stream_where_it_cannot_apply():
    from ris_fusion_ros.commands.refer_batch import command_operating_point

    assert command_operating_point(_refer_args()) == OperatingPoint(0.35, None, True, 0.2)
    assert command_operating_point(_refer_args(detector="yolov5n")) == OperatingPoint(0.25, 0.15, False)
    explicit = _refer_args(conf=0.25, second_look=0.15, no_thermal_stream=None, score_margin=0)
    assert command_operating_point(explicit) == OperatingPoint(0.25, 0.15, False)
    assert command_operating_point(_refer_args(instances="gt")) == OperatingPoint(0.25, 0.15, False)
    assert command_operating_point(_refer_args(input="infrared")).thermal_stream is False
    assert command_operating_point(_refer_args(detector="yolov5n", thermal_stream=None)).thermal_stream is True


def test_the_detection_stage_reports_the_operating_point_it_runs_at(shared_root):
    from ris_fusion_ros.core.pipeline import Pipeline

    default = Pipeline.from_values(merged({"fusion_method": "max"})).detection
    assert default.info().endswith("min_score=0.35, referring_down_to=0.15, thermal_stream=on")  # margin 0.2
    assert default.stream_score == pytest.approx(0.075)  # both streams down to half the floor
    other = Pipeline.from_values(merged({"fusion_method": "max", "detector": "yolox-nano"})).detection
    assert other.info().endswith("min_score=0.25, referring_down_to=0.15, thermal_stream=off")
    published_only = Pipeline.from_values(merged({"fusion_method": "max"}), refer=False).detection
    assert published_only.info().endswith("min_score=0.35, referring_down_to=off, thermal_stream=off")


def test_a_score_margin_lowers_what_the_detector_outputs_for_the_referrer_and_reaches_it(shared_root):
    from ris_fusion_ros.core.pipeline import Pipeline

    point = resolve_operating_point("yolox-nano-msrs", score_margin=0.1)
    assert point == OperatingPoint(0.35, None, True, 0.1)
    assert point.candidate_floor() == pytest.approx(0.25)
    assert "score margin 0.1" in point.describe()
    assert resolve_operating_point("yolox-nano-msrs").score_margin == 0.2  # auto: the detector's own
    assert resolve_operating_point("yolox-nano-msrs", score_margin=0).candidate_floor() == pytest.approx(0.35)
    assert resolve_operating_point("yolov5n", score_margin=0.2).candidate_floor() == pytest.approx(0.05)
    with pytest.raises(ConfigError, match="score_margin"):
        resolve_operating_point("yolov5n", score_margin=0.7)
    assert command_margin(0.05) == 0.05
    pipeline = Pipeline.from_values(merged({"fusion_method": "max", "score_margin": 0.1}))
    assert pipeline.detection.info().endswith("min_score=0.35, referring_down_to=0.25, thermal_stream=on")
    assert pipeline.detection.stream_score == pytest.approx(0.125)
    assert pipeline.referring.referrer.score_margin == 0.1


def command_margin(value: float) -> float:
    from ris_fusion_ros.commands.refer_batch import command_operating_point

    return command_operating_point(_refer_args(score_margin=value)).score_margin
