"""Referring feedback into fusion: the control map, the two-pass procedure on real MSRS pairs, the
pipeline's frame-t-mask -> frame-t+1-fusion loop, and ``ris-fusion eval feedback`` end to end."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from ris_fusion_ros.cli import main
from ris_fusion_ros.core.data import open_dataset
from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.feedback import (
    PassResult,
    detections_mask,
    feedback_control,
    search_control,
    search_image,
    search_lean,
    search_pass,
    selection_control,
    two_pass,
)
from ris_fusion_ros.core.fusion import create_method
from ris_fusion_ros.core.io.sync import ApproximateTimeSync, SyncedPair
from ris_fusion_ros.core.pipeline import DecodedImage, DetectionStage, FusionStage, Pipeline, ReferringStage, merged
from ris_fusion_ros.core.pipeline.config import sync_config
from ris_fusion_ros.core.referring import Referrer
from ris_fusion_ros.core.referring.instances import detections_from_boxes
from ris_fusion_ros.core.referring.types import ReferredSelection

SHAPE = (60, 80)


def _square(r0=20, r1=30, c0=30, c1=40) -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[r0:r1, c0:c1] = 255
    return mask


def test_control_map_inside_outside_strength_and_dilation():
    mask = _square()
    plain = feedback_control(mask, SHAPE, 0.6, dilate_px=0, feather_px=0)
    assert plain.dtype == np.float32 and plain.shape == SHAPE
    assert np.all(plain[mask > 0] == np.float32(0.6)) and np.all(plain[mask == 0] == 0)
    full = feedback_control(mask, SHAPE, 1.0, dilate_px=0, feather_px=0)
    assert np.allclose(full, plain / 0.6)
    dilated = feedback_control(mask, SHAPE, 1.0, dilate_px=4, feather_px=0)
    assert dilated[20, 26] == 1.0 and dilated[20, 25] == 0.0  # 4 px left of the mask edge, not 5
    assert np.count_nonzero(dilated) > np.count_nonzero(full)
    feathered = feedback_control(mask, SHAPE, 1.0, dilate_px=2, feather_px=6)
    ramp = feathered[25, 20:29]  # walking right toward the dilated mask (which starts at column 28)
    assert np.all(np.diff(ramp) >= 0) and 0 < ramp[4] < 1 and ramp[-1] == 1.0
    assert feathered[0, 0] == 0.0 and feathered.max() == 1.0


def test_empty_selection_no_match_and_zero_strength_give_zeros():
    assert not feedback_control(None, SHAPE, 1.0).any()
    assert not feedback_control(np.zeros(SHAPE, np.uint8), SHAPE, 1.0).any()
    assert not feedback_control(_square(), SHAPE, 0.0).any()
    no_match = ReferredSelection("the dog", np.zeros(SHAPE, np.uint8), [], no_match=True)
    assert not feedback_control(no_match, SHAPE, 1.0).any()
    chosen = ReferredSelection("the person", _square(), [], selected=[0])
    assert feedback_control(chosen, SHAPE, 1.0)[25, 35] == 1.0


def test_bad_feedback_arguments_are_named():
    with pytest.raises(ConfigError, match="feedback_strength"):
        feedback_control(_square(), SHAPE, 1.5)
    with pytest.raises(ConfigError, match="dilate_px"):
        feedback_control(_square(), SHAPE, 0.5, dilate_px=-1)
    with pytest.raises(DataError, match="feedback mask"):
        feedback_control(np.zeros((10, 10), np.uint8), SHAPE, 0.5)


def test_detections_mask_unions_the_feedback_classes_only():
    seg = np.zeros(SHAPE, bool)
    seg[5:9, 5:9] = True
    dets = [Detection((30, 20, 40, 30), 0.9, 0, "person"), Detection((0, 0, 80, 60), 0.9, 16, "dog"),
            Detection((0, 0, 20, 20), 0.8, 2, "car", mask=seg)]
    union = detections_mask(dets, SHAPE)
    assert union[25, 35] == 255 and union[6, 6] == 255 and union[15, 15] == 0 and union[50, 70] == 0


@pytest.fixture(scope="module")
def msrs(shared_root):
    return open_dataset("msrs", shared=shared_root)


@pytest.fixture(scope="module")
def risfusenet():
    # the network without its thermal-saliency control: on a warm referred person that control is already
    # at +1, so the feedback would have nothing left to change there
    return create_method("risfusenet-plain")


def test_two_pass_changes_the_fused_frame_inside_the_mask_only(msrs, risfusenet):
    referrer = Referrer()
    for pair_id in ("00008N", "00591D"):
        pair = msrs.load(next(r for r in msrs.records if r.pair_id == pair_id))
        truth = detections_from_boxes(pair.boxes, msrs.class_names)  # ground-truth boxes as the detector

        def detect(_image, truth=truth):
            return truth

        result = two_pass(risfusenet, detect, referrer, pair.ir, pair.vis, "the person", strength=1.0, dilate_px=6)
        assert not result.plain.selection.no_match
        inside = result.control > 0
        assert inside.any() and (~inside).any()
        diff = np.abs(result.feedback.fused.astype(int) - result.plain.fused.astype(int)).max(axis=2)
        assert diff[~inside].max() == 0, pair_id  # outside the feathered control map: the same pixels
        assert diff[result.plain.selection.mask > 0].mean() > 0.5, pair_id  # inside: changed


class _BoxDetector:
    """Test double: the same person box on every frame."""

    name = "box"
    class_names = ("person",)

    def __init__(self, box):
        self.box = box

    def detect(self, image):
        return [Detection(self.box, 0.9, 0, "person")]


def _pipeline(strength: float, box) -> Pipeline:
    # the plain network: its thermal-saliency control would already hold the warm person at +1
    values = merged({"fusion_method": "risfusenet-plain", "feedback_strength": strength,
                     "thermal_normalization": "fixed", "thermal_min": 0.0,
                     "thermal_max": 255.0})
    pipeline = Pipeline(FusionStage.from_values(values), ApproximateTimeSync(sync_config(values)),
                        DetectionStage(_BoxDetector(box)), ReferringStage.create())
    pipeline.set_text("the person")
    return pipeline


def test_pipeline_feeds_the_last_mask_into_the_next_fusion(msrs):
    pair = msrs.load(next(r for r in msrs.records if r.pair_id == "00008N"))
    person = next(b for b in pair.boxes if msrs.class_names[int(b[0])] == "person")
    box = tuple(float(v) for v in person[1:])
    runs = {}
    for strength in (0.0, 1.0):
        pipeline = _pipeline(strength, box)
        frames = []
        for k in range(2):
            stamp = 1_000_000_000 * (k + 1)
            synced = SyncedPair(DecodedImage(stamp, pair.ir, "mono8", "cam"),
                                DecodedImage(stamp, pair.vis, "rgb8", "cam"), stamp, stamp, 0)
            frames.append(pipeline.process(synced))
        runs[strength] = frames
        pipeline.close()
    off, on = runs[0.0], runs[1.0]
    assert np.array_equal(off[0].fused, on[0].fused)  # frame 0: no mask yet
    mask = on[0].selection.mask > 0
    assert mask.any()
    diff = np.abs(on[1].fused.astype(int) - off[1].fused.astype(int)).max(axis=2)
    control = feedback_control(mask, mask.shape, 1.0)
    assert diff[mask].mean() > 0.5 and diff[control == 0].max() == 0
    with pytest.raises(ConfigError, match="feedback_strength"):
        FusionStage.from_values(merged({"fusion_method": "max", "feedback_strength": 0.5}))
    with pytest.raises(ConfigError, match="feedback_strength"):
        FusionStage.from_values(merged({"feedback_strength": 2.0}))


def test_eval_feedback_end_to_end(shared_root, tmp_path, capsys):
    out = tmp_path / "fb"
    assert main(["eval", "feedback", "--dataset", "msrs", "--expressions", "data/expressions/heldout.json",
                 "--out", str(out), "--strength", "1.0", "--limit", "2", "--no-progress"]) == 0
    report = capsys.readouterr().out
    assert "plain (no feedback)" in report and "feedback s=1 d=" in report and "mAP50" in report
    assert "Training pairs: yolox-nano-msrs: held out (none of the 1 evaluated pairs" in report
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["strength"] for r in rows] == ["0.0", "1.0"] and all(r["expressions"] == "2" for r in rows)
    assert float(rows[0]["abs_change_in"]) == 0.0 and float(rows[1]["abs_change_in"]) > 1.0
    assert float(rows[1]["abs_change_out"]) < 0.2 * float(rows[1]["abs_change_in"])
    assert 0.0 <= float(rows[1]["mAP50"]) <= 1.0
    # paired counts against the plain row agree with the accuracies and the objects of the two images
    wins, losses = int(rows[1]["refer_wins"]), int(rows[1]["refer_losses"])
    assert wins - losses == round(2 * (float(rows[1]["acc50"]) - float(rows[0]["acc50"])))
    assert rows[0]["objects"] == rows[1]["objects"] and int(rows[0]["objects"]) > 0
    assert int(rows[1]["objects_found"]) - int(rows[0]["objects_found"]) == (
        int(rows[1]["object_wins"]) - int(rows[1]["object_losses"]))
    assert 0.0 < float(rows[1]["object_p"]) <= 1.0 and "McNemar" in report
    # the mAP50 change gets a paired-bootstrap interval; the plain row is the reference
    low, high = float(rows[1]["mAP50_delta_low"]), float(rows[1]["mAP50_delta_high"])
    assert low <= high and math.isnan(float(rows[0]["mAP50_delta_low"])) and "paired bootstrap" in report
    per = list(csv.DictReader((out / "per_expression.csv").open()))
    assert len(per) == 2
    assert main(["eval", "feedback", "--expressions", "data/expressions/heldout.json", "--out", str(out),
                 "--strength", "0", "--no-progress"]) == 2
    assert "--strength 0" in capsys.readouterr().err
    assert main(["eval", "feedback", "--expressions", "data/expressions/heldout.json", "--out", str(out),
                 "--method", "max", "--no-progress"]) == 2
    assert "'max' does not take control" in capsys.readouterr().err


def test_fusion_node_subscribes_to_the_referring_mask_when_feedback_is_on():
    from conftest import require_ros_module

    require_ros_module("rclpy")
    from sensor_msgs.msg import Image
    from test_fusion_node import Harness, grey_bgr, hot_thermal, make_image, ros_context

    from ris_fusion_ros.core.io.image_codec import array_to_image_fields, message_to_array

    mask = np.zeros((48, 64), np.uint8)
    mask[10:22, 30:46] = 255  # the hot square of hot_thermal()
    with ros_context() as ctx:
        h = Harness(ctx, fusion_method="risfusenet-plain", feedback_strength=1.0, thermal_normalization="fixed")
        try:
            h.start()
            mask_pub = h.peer.create_publisher(Image, "referring/mask", 10)
            assert h.spin_until(lambda: mask_pub.get_subscription_count() >= 1)
            h.send(make_image(hot_thermal(), "mono16", 1.0, "cam"), make_image(grey_bgr(), "bgr8", 1.0, "cam"))
            assert h.spin_until(lambda: len(h.fused) == 1)
            mask_pub.publish(Image(**array_to_image_fields(mask, "mono8")))
            assert h.spin_until(lambda: h.node._stage._feedback is not None)
            h.send(make_image(hot_thermal(), "mono16", 2.0, "cam"), make_image(grey_bgr(), "bgr8", 2.0, "cam"))
            assert h.spin_until(lambda: len(h.fused) == 2)
        finally:
            h.node.destroy_node()
            h.peer.destroy_node()
    before, after = (message_to_array(m).astype(int) for m in h.fused)
    diff = np.abs(after - before).max(axis=2)
    control = feedback_control(mask, mask.shape, 1.0)
    assert diff[mask > 0].mean() > 1.0 and diff[control == 0].max() == 0


def _selection(no_match: bool, classes: tuple[str, ...], mask: np.ndarray | None = None) -> ReferredSelection:
    mask = np.zeros(SHAPE, np.uint8) if mask is None else mask
    return ReferredSelection("t", mask, [], [] if no_match else [0], no_match, 0.0 if no_match else 0.9,
                             classes=classes)


def test_search_leans_the_whole_frame_toward_the_source_of_the_missing_category():
    searched = selection_control(_selection(True, ("person",)), SHAPE, 0.7)
    assert searched.shape == SHAPE and np.all(searched == np.float32(0.7))  # people: infrared
    for classes in (("car",), ("bicycle",), ("car", "bicycle"), ("car", "bus", "truck", "motorcycle")):  # "vehicle"
        assert np.all(selection_control(_selection(True, classes), SHAPE, 0.7) == np.float32(-0.7))  # visible
    for selection in (_selection(True, ("person", "car")), _selection(True, ()), _selection(True, ("dog",))):
        assert search_lean(selection) == 0.0 and not selection_control(selection, SHAPE, 0.7).any()
    assert not selection_control(_selection(True, ("person",)), SHAPE, 0.7, search=False).any()
    found = selection_control(_selection(False, ("person",), _square()), SHAPE, 0.7)
    assert np.array_equal(found, feedback_control(_square(), SHAPE, 0.7))  # found: its own mask
    assert np.array_equal(selection_control(_square(), SHAPE, 0.7), feedback_control(_square(), SHAPE, 0.7))
    assert search_control(_selection(False, ("person",), _square()), SHAPE) is None


class _Fusion:
    """Fuses to the visible image; with a control map, to a flat frame of 255 (+) or 10 (-) so a test can
    tell which view the detector was given."""

    name = "stub"

    def __init__(self) -> None:
        self.controls: list[float | None] = []

    def fuse(self, ir, vis, control=None):
        self.controls.append(None if control is None else float(control.flat[0]))
        if control is None:
            return vis
        return np.full(vis.shape, 255 if control.flat[0] > 0 else 10, np.uint8)


class _ViewDetector:
    """A person on bright views (the infrared-leaning one, or a bright infrared image), a car on the
    visible-leaning fused view (10), nothing on the plain frame (0)."""

    name = "view"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        level = int(np.asarray(image)[..., 0].max())
        if level >= 200:
            return [Detection((10.0, 10.0, 30.0, 50.0), 0.8, 0, "person")]
        if level == 10:
            return [Detection((40.0, 20.0, 70.0, 40.0), 0.8, 2, "car")]
        return []


def _warm_person() -> np.ndarray:
    """A thermal frame with a warm person where _ViewDetector puts its box (the thermal check keeps it)."""
    ir = np.full(SHAPE, 90, np.uint8)
    ir[10:50, 10:30] = 250
    return ir


def test_search_image_and_search_pass_look_where_the_category_is_seen_best():
    ir, vis = _warm_person(), np.zeros((*SHAPE, 3), np.uint8)
    fusion = _Fusion()
    assert search_image("fusion", 1.0, fusion, ir, vis).max() == 255 and fusion.controls == [1.0]
    assert np.array_equal(search_image("source", 1.0, fusion, ir, vis), np.repeat(ir[:, :, None], 3, axis=2))
    assert search_image("source", -1.0, fusion, ir, vis) is vis
    with pytest.raises(ConfigError, match="search must be one of off, fusion, source"):
        search_image("thermal", 1.0, fusion, ir, vis)
    referrer, detector = Referrer(), _ViewDetector()
    first = PassResult(vis, [], referrer.refer("the person", [], (SHAPE[1], SHAPE[0])))
    second = search_pass(fusion, detector.detect, referrer, ir, vis, "the person", first, "fusion")
    assert not second.selection.no_match and second.detections[0].class_name == "person"
    assert "search: no match on the fused frame, this answer from the frame fused again leaning to infrared" in \
        second.selection.explanation
    cars = search_pass(fusion, detector.detect, referrer, ir, vis, "the car",
                       PassResult(vis, [], referrer.refer("the car", [], (SHAPE[1], SHAPE[0]))), "fusion")
    assert fusion.controls[-1] == -1.0 and cars.selection.selected == [0]  # cars: the visible-leaning view
    dog = PassResult(vis, [], referrer.refer("the dog", [], (SHAPE[1], SHAPE[0])))
    calls = detector.calls
    assert search_pass(fusion, detector.detect, referrer, ir, vis, "the dog", dog, "fusion") is dog
    assert search_pass(fusion, detector.detect, referrer, ir, vis, "the person", first, "off") is first
    assert detector.calls == calls  # nothing to search: no detector run


def test_refer_batch_search_answers_a_no_match_from_the_search_view(write_pair_folder):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.referring.batch import InstanceSource, run_batch

    # the plain fused frame (= the dark visible image) shows the detector nothing
    root = write_pair_folder({"p": (_warm_person(), np.zeros((*SHAPE, 3), np.uint8))})
    dataset = open_dataset("msrs", root)
    expressions = [{"image": "p", "text": "the person"}, {"image": "p", "text": "the car"},
                   {"image": "p", "text": "the dog"}]
    for mode, car_found in (("fusion", True), ("source", False)):
        source = InstanceSource("detector", _ViewDetector(), _Fusion(), "fused", search=mode)
        person, car, dog = run_batch(dataset, expressions, Referrer(), source)
        assert [p["searched"] for p in (person, car, dog)] == [True, True, False]
        assert not person["empty"] and person["classes"] == ["person"] and "search:" in person["explanation"]
        assert car["empty"] is (not car_found)  # source mode looks at the (dark) visible image: still nothing
        assert "search:" in car["explanation"] and dog["empty"] and "search:" not in dog["explanation"]
    # with the thermal stream the search reuses the pair's thermal detections: fused + thermal, then one view each
    detector = _ViewDetector()
    run_batch(dataset, expressions, Referrer(), InstanceSource("detector", detector, _Fusion(), "fused",
                                                               thermal_stream=True, search="fusion"))
    assert detector.calls == 4
    with pytest.raises(ConfigError, match="needs --instances detector on the fused image"):
        InstanceSource.create("gt", search="fusion")


def test_pipeline_search_refers_a_no_match_again_on_the_same_frame():
    values = merged({"fusion_method": "max", "search": "source", "thermal_normalization": "fixed",
                     "thermal_min": 0.0, "thermal_max": 255.0})
    detector = _ViewDetector()
    pipeline = Pipeline(FusionStage.from_values(values, warm_up=False), ApproximateTimeSync(sync_config(values)),
                        DetectionStage(detector), ReferringStage.create())
    pipeline.set_text("the person")
    ir, vis = _warm_person(), np.zeros((*SHAPE, 3), np.uint8)
    stamp = 1_000_000_000
    synced = SyncedPair(DecodedImage(stamp, ir, "mono8", "cam"), DecodedImage(stamp, vis, "rgb8", "cam"), stamp,
                        stamp, 0)
    result = pipeline.process(synced)
    # 'max' fuses the bright thermal in, so the plain frame already shows the person: no search
    assert not result.selection.no_match and "search" not in result.timings_ms
    pipeline.fusion.method = _Fusion()  # from here the plain frame is the dark visible image
    stamp += 1  # a new frame (the detection stage reuses its result while the stamp repeats)
    synced = SyncedPair(DecodedImage(stamp, ir, "mono8", "cam"), DecodedImage(stamp, vis, "rgb8", "cam"), stamp,
                        stamp, 0)
    result = pipeline.process(synced)
    assert result.detections == []  # published detections stay the plain fused frame's
    assert not result.selection.no_match and "search" in result.timings_ms  # found in the source view (thermal)
    assert "this answer from the infrared image" in result.selection.explanation
    assert result.selection.mask[20:40, 15:25].all()  # the person's mask on the frame's geometry
    dark = SyncedPair(DecodedImage(stamp + 1, np.zeros(SHAPE, np.uint8), "mono8", "cam"),
                      DecodedImage(stamp + 1, vis, "rgb8", "cam"), stamp + 1, stamp + 1, 0)
    result = pipeline.process(dark)
    assert result.selection.no_match and "search" in result.timings_ms  # searched; the thermal frame is dark too
    with pytest.raises(ConfigError, match="search 'fusion' needs a fusion method with a control map"):
        FusionStage.from_values(merged({"fusion_method": "max", "search": "fusion"}), warm_up=False)
    with pytest.raises(ConfigError, match="search must be one of"):
        FusionStage.from_values(merged({"fusion_method": "max", "search": "everywhere"}), warm_up=False)
    assert FusionStage.from_values(merged({"fusion_method": "max", "search": False}), warm_up=False).search == "off"


def test_referrer_reports_the_classes_a_text_asks_for():
    referrer = Referrer()
    dets = [Detection((10, 10, 20, 30), 0.9, 2, "car")]
    assert referrer.refer("the pedestrian on the left", dets, (80, 60)).classes == ("person",)
    assert referrer.refer("the car", dets, (80, 60)).classes == ("car",)


def test_fusion_stage_follows_the_last_mask_and_never_leans_the_whole_next_frame():
    values = merged({"fusion_method": "risfusenet-plain", "feedback_strength": 0.5})
    stage = FusionStage.from_values(values, warm_up=False)
    assert stage._control(SHAPE) is None  # nothing referred yet
    stage.set_feedback(_selection(True, ("person",)))
    assert stage._control(SHAPE) is None  # a no-match is searched on its own frame (Pipeline), not the next
    stage.set_feedback(_selection(False, ("person",), _square()))
    assert np.array_equal(stage._control(SHAPE), feedback_control(_square(), SHAPE, 0.5))


def _feedback_variants(*options: str) -> list[str]:
    """Variant names as ``eval feedback`` builds them from its real command line."""
    import argparse

    from ris_fusion_ros.commands.eval_feedback import add_arguments, variants_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--expressions", "e.json", "--out", "o", *options])
    return [v.name for v in variants_from_args(args)]


def test_eval_feedback_search_flag_adds_one_search_row_per_setting():
    names = _feedback_variants("--strength", "0.5,1", "--dilate", "4", "--search")
    assert names == ["feedback s=0.5 d=4", "feedback s=1 d=4", "feedback s=0.5 d=4 +search", "feedback s=1 d=4 +search"]


def test_eval_feedback_search_only_adds_the_fusion_search_and_its_no_fusion_reference():
    names = _feedback_variants("--strength", "0.5", "--dilate", "4", "--search-only")
    assert names == ["feedback s=0.5 d=4", "search only, fused again s=1", "search only, source image (no fusion)"]
    from ris_fusion_ros.core.evaluation.feedback_eval import Variant

    with pytest.raises(ConfigError, match="search-only"):
        Variant(1.0, search_only="thermal")


def test_eval_feedback_toward_visible_adds_rows_without_a_search_form_and_rejects_unknown_leans():
    names = _feedback_variants("--strength", "0.5", "--dilate", "4", "--search", "--toward", "infrared,visible")
    assert names == ["feedback s=0.5 d=4", "feedback s=0.5 d=4 +search", "feedback s=0.5 d=4 toward visible"]
    with pytest.raises(ConfigError, match=r"lean goes toward one of infrared, visible, got 'thermal'"):
        _feedback_variants("--toward", "thermal")
