"""Person boxes the thermal image does not back up are left out of referring; other classes and the
ground-truth path are untouched."""

from __future__ import annotations

import numpy as np

from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.referring import Referrer
from ris_fusion_ros.core.referring.thermal_check import ThermalCheck


def _scene():
    thermal = np.full((100, 200), 60, np.uint8)
    thermal[30:70, 150:170] = 160  # a warm person on the right
    detections = [Detection((20, 30, 40, 70), 0.9, 0, "person"),  # left "person": as cold as its surroundings
                  Detection((150, 30, 170, 70), 0.8, 0, "person"),
                  Detection((80, 40, 120, 70), 0.9, 2, "car")]  # cold car: cars are not checked
    return thermal, detections


def test_contrast_is_the_warm_inside_against_a_ring_around_the_box():
    thermal, dets = _scene()
    check = ThermalCheck()
    assert check.contrast(thermal, dets[1].box) == 100.0
    assert check.contrast(thermal, dets[0].box) == 0.0
    assert check.keep(dets, thermal) == [1, 2]
    assert check.keep(dets, None) == [0, 1, 2] and ThermalCheck(0.0).keep(dets, thermal) == [0, 1, 2]


def test_the_cold_person_box_does_not_take_the_referred_place_and_is_reported():
    thermal, dets = _scene()
    result = Referrer().refer("the person on the left", dets, (200, 100), thermal)
    assert result.selected == [1] and "1 person box(es) not warmer" in result.explanation
    plain = Referrer(thermal_check=ThermalCheck(0.0)).refer("the person on the left", dets, (200, 100), thermal)
    assert plain.selected == [0]
    assert Referrer().refer("the car", dets, (200, 100), thermal).selected == [2]
    # without a thermal image nothing can be checked: every box stays
    assert Referrer().refer("the person on the left", dets, (200, 100)).selected == [0]
