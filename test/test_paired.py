"""Paired comparisons: McNemar's exact p-value, wins/losses, and which ground-truth objects a detector finds."""

import numpy as np
import pytest

from ris_fusion_ros.core.detection.evaluation import found_objects
from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.evaluation.paired import compare, sign_test_p


def test_sign_test_matches_the_binomial_tails():
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(5, 5) == 1.0
    assert sign_test_p(10, 0) == pytest.approx(2 / 1024)
    assert sign_test_p(3, 7) == pytest.approx(2 * (1 + 10 + 45 + 120) / 1024)  # 0.34375
    assert sign_test_p(7, 3) == sign_test_p(3, 7)
    assert sign_test_p(40, 10) < 0.001 < sign_test_p(14, 10)
    with pytest.raises(ValueError):
        sign_test_p(-1, 2)


def test_compare_counts_items_that_changed_each_way():
    before = [True, True, False, False, True]
    after = [True, False, True, True, True]
    c = compare(before, after)
    assert (c.wins, c.losses, c.items) == (2, 1, 5)
    assert "+2 / -1 of 5" in c.describe()
    with pytest.raises(ValueError, match="same items"):
        compare([True], [True, False])


def det(box, score, name):
    return Detection(tuple(float(v) for v in box), score, {"person": 0, "car": 2}[name], name)


def test_found_objects_matches_by_class_score_floor_and_iou_once_each():
    names = ["person", "bicycle", "car"]
    gt = np.array([[0, 10, 10, 50, 100], [0, 60, 10, 100, 100], [2, 200, 200, 300, 260], [1, 0, 0, 5, 5]])
    detections = [det((12, 12, 50, 98), 0.9, "person"),    # finds person 1
                  det((11, 11, 49, 99), 0.8, "person"),    # duplicate: person 1 is taken, person 2 is far
                  det((200, 200, 300, 260), 0.2, "person"),  # wrong class for the car
                  det((205, 198, 298, 262), 0.1, "car")]   # the car, below the floor
    assert found_objects(gt, names, detections, ["person", "bicycle", "car"], 0.25) == [True, False, False, False]
    assert found_objects(gt, names, detections, ["person", "car"], 0.05) == [True, False, True]  # no bicycle row
    assert found_objects(np.zeros((0, 5)), names, detections, ["person"], 0.25) == []


def test_compare_runs_by_type_and_refuses_runs_of_other_expressions():
    from ris_fusion_ros.core.evaluation.paired import compare_runs

    rows = [("x", "spatial", "False"), ("y", "spatial", "True"), ("z", "group", "False")]
    before = [{"index": i, "image": "a", "text": t, "type": k, "correct": c} for i, (t, k, c) in enumerate(rows)]
    after = [dict(r, correct=c) for r, c in zip(before, [True, True, True], strict=True)]
    result = compare_runs(before, after)
    assert (result["overall"].wins, result["overall"].losses, result["overall"].items) == (2, 0, 3)
    assert (result["spatial"].wins, result["group"].wins) == (1, 1)
    with pytest.raises(ValueError, match="differs"):
        compare_runs(before, [dict(after[0], text="other"), *after[1:]])
    with pytest.raises(ValueError, match="expressions"):
        compare_runs(before, after[:2])
