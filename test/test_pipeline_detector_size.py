"""The ``imgsz`` parameter of the detection / referring nodes and the pipeline: 0 keeps the model's own
letterbox size, a multiple of 32 replaces it, anything else is refused with the reason."""

from __future__ import annotations

import pytest

from ris_fusion_ros.core.errors import ConfigError
from ris_fusion_ros.core.pipeline import Pipeline, merged


def _detector_info(**values) -> str:
    pipeline = Pipeline.from_values(merged({"fusion_method": "max", "detector": "yolov5n", **values}), refer=False)
    return pipeline.detection.info()


def test_imgsz_zero_keeps_the_models_size_and_a_multiple_of_32_replaces_it(shared_root):
    assert "input_size=640x640 (rect" in _detector_info()
    assert "input_size=320x320 (rect" in _detector_info(imgsz=320)
    with pytest.raises(ConfigError, match="imgsz must be one or two multiples of 32"):
        _detector_info(imgsz=100)
