"""Merging two detection streams of one frame (weighted box fusion, core/detection/merge.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.detection.merge import merge_streams
from ris_fusion_ros.core.detection.types import Detection


def det(box, score, name="person", mask=None):
    ids = {"person": 0, "bicycle": 1, "car": 2}
    return Detection(tuple(float(v) for v in box), score, ids[name], name, mask)


def test_agreeing_boxes_become_one_with_the_weighted_box_and_the_mean_score():
    mask = np.ones((4, 4), bool)
    fused = [det((10, 10, 30, 50), 0.6, mask=mask)]
    thermal = [det((12, 10, 32, 50), 0.2)]
    merged = merge_streams(fused, thermal)
    assert len(merged) == 1
    (one,) = merged
    assert one.score == pytest.approx(0.4)
    assert one.box[0] == pytest.approx((10 * 0.6 + 12 * 0.2) / 0.8) and one.box[3] == pytest.approx(50.0)
    assert one.mask is mask  # the fused frame's instance mask is kept


def test_boxes_seen_by_one_stream_keep_half_their_score_and_other_classes_pass_unchanged():
    fused = [det((10, 10, 30, 50), 0.8), det((100, 10, 200, 80), 0.9, "car")]
    thermal = [det((300, 20, 320, 60), 0.7), det((100, 10, 200, 80), 0.95, "car"), det((10, 12, 30, 52), 0.5)]
    merged = merge_streams(fused, thermal)
    by_score = [(d.class_name, round(d.score, 3)) for d in merged]
    # car: the fused stream's only (the thermal stream contributes people only); person pair: mean;
    # the thermal-only person: half
    assert by_score == [("car", 0.9), ("person", 0.65), ("person", 0.35)]
    assert merged == sorted(merged, key=lambda d: -d.score)
    # no people on one side: the other's are halved (WBF: that stream said 0)
    assert [round(d.score, 3) for d in merge_streams([], thermal[:1])] == [0.35]
    assert [round(d.score, 3) for d in merge_streams(fused, [])] == [0.9, 0.4]


def test_each_box_pairs_once_best_overlap_first():
    fused = [det((0, 0, 20, 40), 0.5), det((4, 0, 24, 40), 0.5)]
    thermal = [det((4, 0, 24, 40), 0.9)]
    merged = merge_streams(fused, thermal)
    assert sorted(round(d.score, 3) for d in merged) == [0.25, 0.7]
    paired = max(merged, key=lambda d: d.score)
    assert paired.box == pytest.approx((4, 0, 24, 40))  # paired with the identical box, not the other one
    assert merge_streams(fused, thermal, iou_threshold=0.99)[0].score == pytest.approx(0.7)
