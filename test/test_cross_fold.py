"""Out-of-fold referring score: type weights and the no-match mix come from the reference set, the score is
the weighed per-type accuracy, and the command answers each fold with the other fold's model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ris_fusion_ros.core.evaluation.cross_fold import Outcome, TypeMix, cross_fold_score

CLASSES = ("person", "bicycle", "car")


def _named(text: str) -> tuple[str, ...]:
    return tuple(word for word in text.split() if word in CLASSES)


def test_the_reference_gives_type_weights_and_the_share_of_no_matches_naming_a_class():
    reference = [{"text": "the car", "type": "no_match"}, {"text": "the dog", "type": "no_match"},
                 {"text": "the dog on the left", "type": "no_match"}, {"text": "the left person", "type": "spatial"}]
    mix = TypeMix.of(reference, CLASSES, _named)
    assert mix.weights == {"no_match": 3, "spatial": 1}
    assert mix.no_match_in_class_share == pytest.approx(1 / 3)


def test_the_score_weighs_each_type_by_the_reference_and_mixes_the_two_kinds_of_no_match():
    outcomes = ([Outcome("spatial", False, ok) for ok in (True, True, True, False)]  # 0.75
                + [Outcome("relation", False, ok) for ok in (True, False)]  # 0.5
                + [Outcome("no_match", True, ok) for ok in (True, False)]  # in class 0.5
                + [Outcome("no_match", False, True)] * 4)  # other 1.0
    mix = TypeMix({"spatial": 2, "relation": 1, "no_match": 1, "ordinal": 5}, 0.25)
    score = cross_fold_score(outcomes, mix)
    assert score.per_type["no_match"] == pytest.approx(0.25 * 0.5 + 0.75 * 1.0)
    # ordinal is in the reference but not answered here: left out of the weighing, not counted as 0
    assert score.weighted == pytest.approx((2 * 0.75 + 1 * 0.5 + 1 * 0.875) / 4)
    assert score.raw == pytest.approx(9 / 12) and score.counts == {"spatial": 4, "relation": 2, "no_match": 6}
    unweighted = cross_fold_score(outcomes, None)
    assert math.isnan(unweighted.weighted) and unweighted.per_type["no_match"] == pytest.approx(5 / 6)


def test_refer_folds_answers_each_fold_and_scores_ground_truth_instances_perfectly(shared_root, tmp_path):
    from ris_fusion_ros.cli import main

    root = Path(__file__).resolve().parents[1]
    train = json.loads((root / "data/expressions/train.json").read_text())
    images = list(dict.fromkeys(e["image"] for e in train))[:4]
    folds = []
    for name, ids in (("a", images[:2]), ("b", images[2:])):
        path = tmp_path / f"fold_{name}.txt"
        path.write_text("\n".join(ids) + "\n")
        folds.append(path)
    chosen = [e for image in images for e in [x for x in train if x["image"] == image][:6]]
    expressions = tmp_path / "expr.json"
    expressions.write_text(json.dumps(chosen))
    out = tmp_path / "rf"
    args = ["--no-progress", "eval", "refer-folds", "--folds", f"{folds[0]},{folds[1]}", "--expressions",
            str(expressions), "--weigh-to", str(root / "data/expressions/heldout.json"), "--instances", "gt",
            "--detector", "yolox-nano-msrs,yolox-nano", "--out", str(out)]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["expressions"] == len(chosen) == 15 and summary["left_out"] == 0
    assert summary["weighted"] == 1.0 and summary["raw"] == 1.0  # the labelled boxes answer every expression
    report = (out / "report.md").read_text()
    assert f"{folds[0]} by yolox-nano," in report and f"{folds[1]} by yolox-nano-msrs." in report
    assert (out / "fold1_fold_a" / "per_expression.csv").is_file()
    assert main([*args[:-2], "--out", str(tmp_path / "again"), "--compare-to", str(out)]) == 0
    assert "+0 / -0" in (tmp_path / "again" / "report.md").read_text()
    assert main([*args[:4], f"{folds[0]},{folds[0]}", *args[5:]]) == 2  # overlapping folds
    assert main([*args[:-4], "--detector", "yolox-nano-msrs", "--out", str(out)]) == 2  # one model for two folds
