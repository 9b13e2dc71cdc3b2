"""The label audit of eval refer: objects another label set names and the ground truth lacks can give an
expression a second answer; such expressions are flagged, and accuracy is also given on the unambiguous
ones and with either answer counted."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ris_fusion_ros.cli import main
from ris_fusion_ros.core.detection.merge import extra_objects

W, H = 640, 480


def _yolo(rows: list[tuple[int, float, float, float, float]]) -> str:
    """Pixel boxes (class, x1, y1, x2, y2) as YOLO lines."""
    return "".join(f"{c} {(x1 + x2) / 2 / W:.6f} {(y1 + y2) / 2 / H:.6f} {(x2 - x1) / W:.6f} {(y2 - y1) / H:.6f}\n"
                   for c, x1, y1, x2, y2 in rows)


def test_extra_objects_keeps_only_objects_the_truth_lacks_and_each_once():
    truth = np.array([[0, 200, 100, 240, 200]], float)
    ir = np.array([[0, 202, 102, 241, 199], [0, 40, 100, 80, 200], [2, 200, 100, 240, 200]], float)
    vi = np.array([[0, 41, 101, 80, 200]], float)  # the infrared-only person again
    extra = extra_objects(truth, [ir, vi])
    np.testing.assert_allclose(extra, [[0, 40, 100, 80, 200], [2, 200, 100, 240, 200]])  # a car is not a person
    assert extra_objects(truth, []).shape == (0, 5)


@pytest.fixture
def audited_folder(write_pair_folder):
    ir = np.zeros((H, W), np.uint8)
    root = write_pair_folder({"00001N": (ir, np.zeros((H, W, 3), np.uint8))})
    for sub in ("labels/fusion", "labels/ir"):
        (root / sub).mkdir(parents=True)
    (root / "labels" / "classes.txt").write_text("0 person\n1 bicycle\n2 car\n")
    people = [(0, 200, 100, 240, 200), (0, 400, 100, 440, 200)]
    (root / "labels" / "fusion" / "00001N.txt").write_text(_yolo(people))
    (root / "labels" / "ir" / "00001N.txt").write_text(_yolo([*people, (0, 40, 100, 80, 200)]))
    return root


def test_eval_refer_label_audit_flags_expressions_with_a_second_answer(audited_folder, tmp_path, capsys):
    left, right, infrared_only = [200, 100, 240, 200], [400, 100, 440, 200], [40, 100, 80, 200]
    expressions = [{"image": "00001N", "text": "the leftmost person", "boxes": [left], "type": "spatial"},
                   {"image": "00001N", "text": "the rightmost person", "boxes": [right], "type": "spatial"},
                   {"image": "00001N", "text": "the car", "boxes": [], "type": "no_match"}]
    predictions = [{"index": 0, "boxes": [infrared_only], "empty": False, "size": [W, H]},  # the unlabelled one
                   {"index": 1, "boxes": [left], "empty": False, "size": [W, H]},  # simply wrong
                   {"index": 2, "boxes": [], "empty": True, "size": [W, H]}]
    (tmp_path / "e.json").write_text(json.dumps(expressions))
    (tmp_path / "p.json").write_text(json.dumps(predictions))
    out = tmp_path / "eval"
    args = ["--no-progress", "eval", "refer", "--data-root", str(audited_folder), "--expressions",
            str(tmp_path / "e.json"), "--predictions", str(tmp_path / "p.json"), "--out", str(out)]
    capsys.readouterr()
    assert main([*args, "--label-audit", "labels/ir"]) == 0
    report = capsys.readouterr().out
    # strict 1/3; unambiguous only: the rightmost (wrong) and the car (right) = 1/2; either answer: 2/3
    assert "| **overall** | 3 | 1 | 0.333 | 0.500 | 0.667 |" in report
    rows = list(csv.DictReader((out / "per_expression.csv").open()))
    assert [r["ambiguous"] for r in rows] == ["True", "False", "False"]
    assert [r["correct_either"] for r in rows] == ["True", "False", "True"]
    assert main([*args, "--label-audit", "labels/missing"]) == 2
    assert "labels/missing is not a folder" in capsys.readouterr().err
