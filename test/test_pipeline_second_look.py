"""The referring second look through the pipeline: the detector runs down to second_look_score, the
published detections stay >= min_score, and only the referrer sees the unsure ones (and only when the
confident ones hold no match)."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.errors import ConfigError
from ris_fusion_ros.core.io.sync import ApproximateTimeSync, SyncedPair
from ris_fusion_ros.core.pipeline import DetectionStage, FusionStage, Pipeline, ReferringStage, merged
from ris_fusion_ros.core.pipeline.config import sync_config
from ris_fusion_ros.core.pipeline.stages import DecodedImage
from ris_fusion_ros.core.referring.operating_point import OperatingPoint

H, W = 120, 160


class _ScoredDetector:
    """A confident car, an unsure person (0.2) on the warm blob, a very unsure bicycle (0.05)."""

    class_names = ("person", "bicycle", "car")

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        return [Detection((10.0, 60.0, 50.0, 90.0), 0.9, 2, "car"),
                Detection((70.0, 30.0, 85.0, 90.0), 0.2, 0, "person"),
                Detection((100.0, 60.0, 130.0, 90.0), 0.05, 1, "bicycle")]


def test_detection_stage_publishes_confident_detections_and_keeps_candidates_for_the_referrer():
    detector = _ScoredDetector()
    stage = DetectionStage(detector, min_score=0.25, candidate_score=0.15)
    image = np.zeros((H, W, 3), np.uint8)
    assert [d.class_name for d in stage.detect(image, key=1)] == ["car"]
    assert [d.class_name for d in stage.detect(image, key=1, candidates=True)] == ["car", "person"]
    assert detector.calls == 1 and stage.cache_hits == 1  # one detector run per frame serves both
    # no candidate floor (or one above min_score): candidates are the published detections
    for floor in (None, 0.5):
        plain = DetectionStage(_ScoredDetector(), 0.25, floor)
        assert [d.class_name for d in plain.detect(image, candidates=True)] == ["car"]
    with pytest.raises(ConfigError, match="second_look_score"):
        DetectionStage(detector, 0.25, 1.5)


def _frame(pipeline: Pipeline) -> object:
    ir = np.full((H, W), 40, np.uint8)
    ir[32:88, 72:83] = 210  # the unsure person is warm: the thermal check keeps it
    vis = np.full((H, W, 3), 70, np.uint8)
    stamp = 1_000_000_000
    return pipeline.process(SyncedPair(DecodedImage(stamp, ir, "mono8", "cam"), DecodedImage(stamp, vis, "rgb8", "cam"),
                                       stamp, stamp, 0))


@pytest.mark.parametrize(("second_look", "found"), [(0.15, True), (0.25, False)])
def test_pipeline_refers_an_unsure_person_only_with_the_second_look(second_look, found):
    values = merged({"fusion_method": "max", "min_score": 0.25, "second_look_score": second_look})
    pipeline = Pipeline(FusionStage.from_values(values), ApproximateTimeSync(sync_config(values)),
                        DetectionStage(_ScoredDetector(), values["min_score"], values["second_look_score"]),
                        ReferringStage.create(values["person_min_thermal_contrast"],
                                              OperatingPoint(values["min_score"], values["second_look_score"], False)))
    pipeline.set_text("the person")
    result = _frame(pipeline)
    assert [d.class_name for d in result.detections] == ["car"]  # what /detections carries
    assert result.selection.no_match is not found
    if found:
        chosen = [result.selection.detections[i] for i in result.selection.selected]
        assert [(d.class_name, d.score) for d in chosen] == [("person", 0.2)]
        assert "second look" in result.selection.explanation
        assert result.selection.mask[60, 77] == 255 and result.selection.mask[60, 20] == 0
    pipeline.set_text("the car")  # a confident match never looks further
    car = _frame(pipeline).selection
    assert [car.detections[i].class_name for i in car.selected] == ["car"] and "second look" not in car.explanation
    pipeline.close()


class _ThermalOnlyPerson:
    """Finds a car on colour frames and a person (0.7) only on a gray (thermal) frame."""

    class_names = ("person", "bicycle", "car")

    def __init__(self) -> None:
        self.inputs: list[str] = []

    def detect(self, image):
        gray = image.ndim == 2 or bool((image[..., 0] == image[..., 1]).all()
                                       and (image[..., 1] == image[..., 2]).all())
        self.inputs.append("thermal" if gray else "fused")
        if gray:
            return [Detection((70.0, 30.0, 85.0, 90.0), 0.7, 0, "person")]
        return [Detection((10.0, 60.0, 50.0, 90.0), 0.9, 2, "car")]


@pytest.mark.parametrize("stream", [True, False])
def test_thermal_stream_adds_the_people_found_on_the_thermal_frame_to_the_referring_instances(stream):
    values = merged({"fusion_method": "max", "min_score": 0.25, "second_look_score": 0.15, "thermal_stream": stream})
    detector = _ThermalOnlyPerson()
    stage = DetectionStage(detector, values["min_score"], values["second_look_score"], values["thermal_stream"])
    assert stage.stream_score == pytest.approx(0.075 if stream else 0.15)
    pipeline = Pipeline(FusionStage.from_values(values), ApproximateTimeSync(sync_config(values)), stage,
                        ReferringStage.create(values["person_min_thermal_contrast"],
                                              OperatingPoint(values["min_score"], values["second_look_score"], False)))
    ir = np.full((H, W), 40, np.uint8)
    ir[32:88, 72:83] = 210
    vis = np.zeros((H, W, 3), np.uint8)
    vis[..., 0] = 90  # a colour frame: the fused frame is not gray

    def frame(stamp):
        return pipeline.process(SyncedPair(DecodedImage(stamp, ir, "mono8", "cam"),
                                           DecodedImage(stamp, vis, "rgb8", "cam"), stamp, stamp, 0))

    idle = frame(1)  # no text: the thermal frame is never detected
    assert detector.inputs == ["fused"] and idle.selection.explanation == "no active text"
    pipeline.set_text("the person")
    result = frame(2)
    assert [d.class_name for d in result.detections] == ["car"]  # published: the fused frame's only
    assert result.selection.no_match is not stream
    assert detector.inputs == (["fused", "fused", "thermal"] if stream else ["fused", "fused"])
    if stream:
        (person,) = [result.selection.detections[i] for i in result.selection.selected]
        assert person.score == pytest.approx(0.35)  # found by one stream only: half its score
        assert set(result.timings_ms) >= {"detection", "referring"}
    pipeline.close()


class _BatchingDetector(_ThermalOnlyPerson):
    """Records how many images each batched call carried."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def detect_many(self, images, conf=None):
        self.batches.append(len(images))
        return [self.detect(image) for image in images]


def test_thermal_stream_detects_the_fused_and_the_thermal_frame_in_one_batch_and_reuses_it():
    stage = DetectionStage(_BatchingDetector(), 0.25, 0.15, thermal_stream=True)
    ir = np.full((H, W), 40, np.uint8)
    fused = np.zeros((H, W, 3), np.uint8)
    fused[..., 0] = 90
    published = stage.detect(fused, key=(1, "cam"), thermal=ir)
    assert [d.class_name for d in published] == ["car"]
    assert stage.detector.batches == [2] and stage.runs == 2
    candidates = stage.referring_candidates(fused, ir, key=(1, "cam"))
    assert sorted(d.class_name for d in candidates) == ["car", "person"]
    assert stage.detector.batches == [2] and stage.cache_hits == 2  # both slots reused, nothing run again
    stage.referring_candidates(fused, ir, key=(2, "cam"))  # a new frame: both again, in one batch
    assert stage.detector.batches == [2, 2]
    stage.close()
