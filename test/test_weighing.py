"""Referring over uncertain detections (core/referring/weighing.py): the most probable answer wins."""

from __future__ import annotations

import pytest

from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.errors import ConfigError
from ris_fusion_ros.core.referring import Referrer
from ris_fusion_ros.core.referring.weighing import MAX_UNCERTAIN, presence

SIZE = (640, 480)


def _person(x: float, score: float) -> Detection:
    return Detection((x, 200.0, x + 30.0, 280.0), score, 0, "person")


def _car(x: float, score: float) -> Detection:
    return Detection((x, 220.0, x + 90.0, 280.0), score, 2, "car")


def _referrer(margin: float) -> Referrer:
    return Referrer(min_score=0.35, second_look_score=None, score_margin=margin)


def test_presence_rises_linearly_across_the_band():
    assert presence(0.20, 0.35, 0.1) == 0.0
    assert presence(0.30, 0.35, 0.1) == pytest.approx(0.25)
    assert presence(0.35, 0.35, 0.1) == pytest.approx(0.5)
    assert presence(0.50, 0.35, 0.1) == 1.0


def test_without_a_margin_the_referrer_answers_at_the_hard_floor():
    dets = [_person(10, 0.34), _person(100, 0.34), _person(400, 0.9)]
    sel = _referrer(0.0).refer("the leftmost person", dets, SIZE)
    assert sel.selected == [2] and "weighed" not in sel.explanation


def test_the_answer_most_probable_over_the_uncertain_detections_wins_over_the_hard_floors():
    # two people just below the floor on the left (each real with 0.45), one sure person on the right:
    # leftmost is the first of them in 0.45 of the worlds, the second in 0.55 * 0.45, the sure one in 0.55 ** 2
    dets = [_person(10, 0.34), _person(100, 0.34), _person(400, 0.9)]
    sel = _referrer(0.1).refer("the leftmost person", dets, SIZE)
    assert sel.selected == [0]
    assert "weighed 4 instance sets of 2 uncertain detection(s): this answer in 45%" in sel.explanation
    assert sel.mask[240, 20] == 255 and sel.mask[240, 410] == 0


def test_an_uncertain_lone_object_is_an_answer_only_when_more_likely_real_than_not():
    others = [_person(300, 0.9), _person(500, 0.37)]  # other classes do not change "the car": not weighed
    assert _referrer(0.1).refer("the car", [_car(10, 0.37), *others], SIZE).selected == [0]
    unlikely = _referrer(0.1).refer("the car", [_car(10, 0.33), *others], SIZE)
    assert unlikely.no_match and unlikely.selected == [] and "2 instance sets" in unlikely.explanation
    even = _referrer(0.1).refer("the car", [_car(10, 0.35), *others], SIZE)  # an even chance: the hard floor's answer
    assert even.selected == [0]


def test_far_below_the_band_nothing_is_weighed_and_many_uncertain_detections_are_capped():
    assert _referrer(0.05).refer("the person", [_person(10, 0.2)], SIZE).no_match
    crowd = [_person(10 + 50 * i, 0.3 + 0.01 * i) for i in range(10)]
    sel = _referrer(0.2).refer("the people", crowd, SIZE)
    assert f"weighed {2 ** MAX_UNCERTAIN} instance sets of {MAX_UNCERTAIN} uncertain" in sel.explanation


@pytest.mark.parametrize("margin", [-0.1, 0.6])
def test_a_margin_outside_zero_to_a_half_is_refused(margin):
    with pytest.raises(ConfigError, match="score_margin must be within"):
        _referrer(margin)
