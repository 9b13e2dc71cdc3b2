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
from ris_fusion_ros.core.feedback import detections_mask, feedback_control, selection_control, two_pass
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


def test_search_leans_the_whole_frame_only_for_people_that_were_not_found():
    searched = selection_control(_selection(True, ("person",)), SHAPE, 0.7)
    assert searched.shape == SHAPE and np.all(searched == np.float32(0.7))
    for selection in (_selection(True, ("car",)), _selection(True, ("person", "car")), _selection(True, ())):
        assert not selection_control(selection, SHAPE, 0.7).any()  # cars/bicycles/any: worse in infrared
    assert not selection_control(_selection(True, ("person",)), SHAPE, 0.7, search=False).any()
    found = selection_control(_selection(False, ("person",), _square()), SHAPE, 0.7)
    assert np.array_equal(found, feedback_control(_square(), SHAPE, 0.7))  # found: its own mask
    assert np.array_equal(selection_control(_square(), SHAPE, 0.7), feedback_control(_square(), SHAPE, 0.7))


def test_referrer_reports_the_classes_a_text_asks_for():
    referrer = Referrer()
    dets = [Detection((10, 10, 20, 30), 0.9, 2, "car")]
    assert referrer.refer("the pedestrian on the left", dets, (80, 60)).classes == ("person",)
    assert referrer.refer("the car", dets, (80, 60)).classes == ("car",)


def test_fusion_stage_searches_after_a_person_no_match_and_follows_the_mask_once_found():
    values = merged({"fusion_method": "risfusenet-plain", "feedback_strength": 0.5})
    stage = FusionStage.from_values(values, warm_up=False)
    assert stage._control(SHAPE) is None  # nothing referred yet
    stage.set_feedback(_selection(True, ("person",)))
    assert np.all(stage._control(SHAPE) == np.float32(0.5))
    stage.set_feedback(_selection(False, ("person",), _square()))
    assert np.array_equal(stage._control(SHAPE), feedback_control(_square(), SHAPE, 0.5))
    stage.set_feedback(_selection(True, ("car",)))
    assert stage._control(SHAPE) is None
    off = FusionStage.from_values(merged({**values, "feedback_search": False}), warm_up=False)
    off.set_feedback(_selection(True, ("person",)))
    assert off._control(SHAPE) is None


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


def test_eval_feedback_toward_visible_adds_rows_without_a_search_form_and_rejects_unknown_leans():
    names = _feedback_variants("--strength", "0.5", "--dilate", "4", "--search", "--toward", "infrared,visible")
    assert names == ["feedback s=0.5 d=4", "feedback s=0.5 d=4 +search", "feedback s=0.5 d=4 toward visible"]
    with pytest.raises(ConfigError, match="--toward"):
        _feedback_variants("--toward", "thermal")
