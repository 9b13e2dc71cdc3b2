"""Detector ensembles (core/detection/ensemble.py) and the N-stream weighted box fusion under them
(core/detection/merge.fuse_streams)."""

from __future__ import annotations

import numpy as np
import pytest
from test_detection import _constant_model, _yolov8_prediction
from test_detection_merge import det

from ris_fusion_ros.core.detection import create_detector
from ris_fusion_ros.core.detection.ensemble import EnsembleDetector, ensemble_members
from ris_fusion_ros.core.detection.merge import fuse_streams
from ris_fusion_ros.core.errors import ConfigError


def test_fuse_streams_averages_what_all_streams_see_and_scores_down_what_one_sees():
    a = [det((10, 10, 30, 50), 0.9), det((100, 10, 120, 50), 0.6)]
    b = [det((11, 10, 31, 50), 0.6)]
    c = [det((10, 11, 30, 51), 0.3), det((200, 10, 220, 50), 0.9)]
    fused = sorted(fuse_streams([a, b, c]), key=lambda d: -d.score)
    assert [round(d.score, 3) for d in fused] == [0.6, 0.3, 0.2]  # (0.9+0.6+0.3)/3, 0.9/3, 0.6/3
    assert fused[0].box[0] == pytest.approx((10 * 0.9 + 11 * 0.6 + 10 * 0.3) / 1.8)
    # two boxes of one stream never join, even when they overlap
    same = [det((10, 10, 30, 50), 0.8), det((11, 10, 31, 50), 0.7)]
    assert len(fuse_streams([same, []])) == 2
    # best IoU first: b's box joins the closer of a's two
    a2 = [det((10, 10, 30, 50), 0.5), det((14, 10, 34, 50), 0.5)]
    b2 = [det((13, 10, 33, 50), 0.5)]
    groups = fuse_streams([a2, b2])
    assert sorted(round(d.score, 3) for d in groups) == [0.25, 0.5]
    joined = max(groups, key=lambda d: d.score)
    assert joined.box[0] == pytest.approx(13.5)
    assert fuse_streams([[], []]) == []


class FakeMember:
    """A detector double: fixed detections, records the floor it was asked for."""

    def __init__(self, name, detections, class_names=("person", "bicycle", "car"), segmentation=False):
        self.name, self.model_path, self._dets = name, f"/models/{name}.onnx", detections
        self.class_names, self.segmentation, self.asked = list(class_names), segmentation, []
        self.closed = False

    def detect(self, image, conf=None):
        self.asked.append(conf)
        return [d for d in self._dets if d.score >= conf]

    def fed_size(self, image):
        return (608, 800)

    def info(self):
        return {"model": self.name, "backend": "fake", "input_size": "800x800"}

    def close(self):
        self.closed = True


def test_ensemble_members_look_lower_and_the_fused_output_keeps_the_floor():
    a = FakeMember("a", [det((10, 10, 30, 50), 0.8), det((100, 10, 140, 40), 0.6, "car"),
                         det((300, 10, 320, 50), 0.2)])
    b = FakeMember("b", [det((11, 10, 31, 50), 0.6), det((300, 11, 320, 51), 0.2)])
    ensemble = EnsembleDetector([a, b], conf=0.25)
    out = ensemble.detect(np.zeros((4, 4, 3), np.uint8))
    assert a.asked == [0.125] and b.asked == [0.125]  # each member down to conf / members
    # person seen by both: mean 0.7; car by one: 0.3; the weak person by both at 0.2: 0.2 < 0.25, dropped
    assert [(d.class_name, round(d.score, 3)) for d in out] == [("person", 0.7), ("car", 0.3)]
    assert [round(d.score, 3) for d in ensemble.detect(None, conf=0.1)] == [0.7, 0.3, 0.2]
    assert ensemble.name == "a+b" and ensemble.class_names == ["person", "bicycle", "car"]
    assert ensemble.info()["members"] == 2 and ensemble.fed_size(None) == (608, 800)
    ensemble.close()
    assert a.closed and b.closed


def test_ensemble_errors_name_the_problem():
    with pytest.raises(ConfigError, match="at least two"):
        EnsembleDetector([FakeMember("a", [])], conf=0.25)
    with pytest.raises(ConfigError, match="other classes"):
        EnsembleDetector([FakeMember("a", []), FakeMember("b", [], class_names=("person",))], conf=0.25)
    with pytest.raises(ConfigError, match="empty member"):
        ensemble_members("a.onnx+")
    assert ensemble_members("yolox-nano") == ["yolox-nano"]


def test_create_detector_builds_an_ensemble_from_a_plus_joined_name(tmp_path):
    names = "{0: 'person', 1: 'car'}"
    one = _constant_model(tmp_path / "one.onnx", {"output0": _yolov8_prediction(2)}, names=names)
    two = _constant_model(tmp_path / "two.onnx", {"output0": _yolov8_prediction(2)}, names=names)
    ensemble = create_detector(f"{one}+{two}", conf=0.3)
    assert isinstance(ensemble, EnsembleDetector) and len(ensemble.members) == 2
    single = create_detector(one, conf=0.3)
    image = np.zeros((64, 64, 3), np.uint8)
    # two identical members: the same objects, boxes and scores as one of them
    got = [(d.class_name, round(d.score, 4), tuple(np.round(d.box, 3))) for d in ensemble.detect(image)]
    want = [(d.class_name, round(d.score, 4), tuple(np.round(d.box, 3))) for d in single.detect(image)]
    assert got == want
    three = _constant_model(tmp_path / "three.onnx", {"output0": _yolov8_prediction(3)},
                            names="{0: 'person', 1: 'car', 2: 'bus'}")
    with pytest.raises(ConfigError, match="other classes"):
        create_detector(f"{one}+{three}")
