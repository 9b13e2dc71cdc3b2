"""Referring core: parser units per expression type, selection geometry, no-match, masks, API errors.

Scenes are hand-placed detections so each expectation can be checked by eye; only nouns outside
the lexicon need the sentence encoder (loaded once per session).
"""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.referring import ReferredSelection, Referrer, create_referrer
from ris_fusion_ros.core.referring.masks import box_prompt_mask
from ris_fusion_ros.core.referring.metrics import box_union_iou
from ris_fusion_ros.core.referring.parser import Parser, normalise

SIZE = (640, 480)


def det(x1, y1, x2, y2, name, score=1.0, mask=None):
    ids = {"person": 0, "bicycle": 1, "car": 2, "bus": 5}
    return Detection((x1, y1, x2, y2), score, ids[name], name, mask)


@pytest.fixture(scope="module")
def referrer() -> Referrer:
    return create_referrer()


@pytest.fixture
def scene():
    """Left to right: person A (far, small), car, person B (next to the car), bicycle, person C (near, warm)."""
    detections = [
        det(20, 200, 40, 240, "person"),      # 0 A: small, high in the image -> far
        det(100, 200, 250, 300, "car"),       # 1
        det(255, 210, 280, 290, "person"),    # 2 B: touches the car
        det(380, 230, 460, 300, "bicycle"),   # 3
        det(520, 150, 580, 400, "person"),    # 4 C: tall, low -> near
    ]
    thermal = np.full((480, 640), 40, np.uint8)
    thermal[160:390, 530:570] = 220            # C is hot
    thermal[215:285, 260:275] = 120            # B is warm
    thermal[205:235, 25:35] = 90               # A lukewarm
    return detections, thermal


def selected(referrer, text, scene) -> list[int]:
    detections, thermal = scene
    return sorted(referrer.refer(text, detections, SIZE, thermal=thermal).selected)


@pytest.mark.parametrize(("text", "expected"), [
    ("the car", [1]), ("the bike", [3]), ("the bicycle", [3]), ("the vehicle", [1]),
    ("the pedestrians", [0, 2, 4]), ("people", [0, 2, 4]), ("all persons", [0, 2, 4]),
    ("every pedestrian", [0, 2, 4]), ("everything", [0, 1, 2, 3, 4]),
])
def test_categories_synonyms_plurals_and_all(referrer, scene, text, expected):
    assert selected(referrer, text, scene) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the leftmost person", [0]), ("the person on the left", [0]), ("the rightmost pedestrian", [4]),
    ("the person on the right", [4]), ("the middle person", [2]), ("the person in the middle", [2]),
    ("the person furthest to the right", [4]), ("the people on the left", [0, 2]),
])
def test_sides_and_extremes(referrer, scene, text, expected):
    assert selected(referrer, text, scene) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the second person from the left", [2]), ("the 2nd person from the right", [2]),
    ("the third person from the right", [0]), ("the first person", [0]),
])
def test_ordinals(referrer, scene, text, expected):
    assert selected(referrer, text, scene) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the nearest person", [4]), ("the closest pedestrian", [4]), ("the farthest person", [0]),
    ("the person farthest away", [0]), ("the person closest to the camera", [4]),
])
def test_nearest_and_farthest_by_apparent_size_and_position(referrer, scene, text, expected):
    assert selected(referrer, text, scene) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the person next to the car", [2]), ("the person beside the car", [2]), ("the car left of the bicycle", [1]),
    ("the person left of the car", [0]), ("the people right of the car", [2, 4]),
    ("the person to the right of the bicycle", [4]), ("the person closest to the bicycle", [4]),
    ("the person closest to the car", [2]),
    ("the bicycle right of the person next to the car", [3]),
])
def test_relations_to_another_object(referrer, scene, text, expected):
    assert selected(referrer, text, scene) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the two people on the left", [0, 2]), ("the two people on the right", [2, 4]),
    ("the three pedestrians", [0, 2, 4]), ("both people on the right", [2, 4]),
])
def test_groups(referrer, scene, text, expected):
    assert selected(referrer, text, scene) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the warmest person", [4]), ("the hottest pedestrian", [4]), ("the coldest person", [0]),
    ("the person with the highest temperature", [4]), ("the person with the lowest temperature", [0]),
])
def test_thermal_attributes(referrer, scene, text, expected):
    assert selected(referrer, text, scene) == expected


@pytest.mark.parametrize("text", [
    "the dog", "the red bus", "the airplane", "the third car", "the person on the bus", "the two cars",
    "the cloud", "the car left of the dog",
])
def test_no_match_gives_empty_mask_and_flag(referrer, scene, text):
    detections, thermal = scene
    result = referrer.refer(text, detections, SIZE, thermal=thermal)
    assert isinstance(result, ReferredSelection)
    assert result.no_match and result.selected == [] and result.score == 0.0
    assert result.mask.shape == (480, 640) and result.mask.dtype == np.uint8 and not result.mask.any()
    assert result.explanation.startswith("no match")


def test_a_noun_below_the_encoder_threshold_is_rejected_with_the_reason(scene):
    strict = Referrer(threshold=0.9)  # shares the process-wide encoder
    result = strict.refer("the cloud", scene[0], SIZE)
    assert result.no_match and "'cloud' is not an object category" in result.explanation


def test_a_bus_is_found_when_the_detector_sees_one(referrer):
    result = referrer.refer("the red bus", [det(10, 10, 200, 200, "bus"), det(300, 10, 400, 200, "car")], SIZE)
    assert result.selected == [0] and "not checked: red" in result.explanation


def test_encoder_resolves_words_outside_the_lexicon(referrer, scene):
    assert selected(referrer, "the automobile", scene) == [1]
    assert selected(referrer, "the leftmost human", scene) == [0]


def test_thermal_attribute_without_thermal_image_is_a_no_match_not_a_guess(referrer, scene):
    result = referrer.refer("the warmest person", scene[0], SIZE)
    assert result.no_match and "thermal" in result.explanation


def test_ambiguous_singular_is_flagged_with_low_score(referrer, scene):
    result = referrer.refer("the person", scene[0], SIZE)
    assert len(result.selected) == 1 and result.score < 0.5 and "ambiguous" in result.explanation


def test_parsing_is_cached_per_text(referrer, scene):
    first = referrer.parse("The person  next to the CAR")
    assert referrer.parse("the person next to the car") is first


def test_normalise_marks_relations_sides_and_thermal_phrases():
    assert normalise("the car to the left of the bicycle") == ["the", "car", "REL_LEFT_OF", "the", "bicycle"]
    assert "SIDE_left" in normalise("the person on the left side")
    assert "warmest" in normalise("the person with the highest temperature")
    assert "FROM_right" in normalise("second from the right")


def test_parser_structures():
    parser = Parser()
    query = parser.parse("the two people on the left")
    assert query.quantity == 2 and query.order_key == "x" and not query.descending
    query = parser.parse("the person next to the leftmost car")
    assert query.relation.kind == "near" and query.relation.reference.order_key == "x"
    assert query.relation.reference.category.classes == ("car",)


def test_instance_masks_are_united(referrer):
    m1 = np.zeros((480, 640), bool)
    m1[10:20, 10:20] = True
    m2 = np.zeros((480, 640), bool)
    m2[100:110, 300:320] = True
    dets = [det(10, 10, 20, 20, "person", mask=m1), det(300, 100, 320, 110, "person", mask=m2),
            det(500, 100, 520, 110, "car")]
    result = referrer.refer("all people", dets, SIZE)
    assert np.array_equal(result.mask > 0, m1 | m2) and set(np.unique(result.mask)) == {0, 255}
    assert "instance mask" in result.explanation


def test_box_prompt_uses_thermal_inside_the_box_and_falls_back_to_the_filled_box():
    thermal = np.full((480, 640), 30, np.uint8)
    thermal[120:180, 110:130] = 200  # a warm figure inside the box
    box = det(100, 100, 140, 200, "person")
    mask, note = box_prompt_mask(box, SIZE, thermal)
    assert note == "thermal Otsu inside the box"
    assert mask[150, 120] and not mask[105, 102] and not mask[:, :99].any() and not mask[:, 141:].any()
    flat, note = box_prompt_mask(box, SIZE, np.full((480, 640), 30, np.uint8))
    assert note.startswith("filled box") and flat[100:200, 100:140].all() and flat.sum() == 100 * 40
    filled, note = box_prompt_mask(box, SIZE, None)
    assert note == "filled box (no thermal image)" and filled.sum() == 100 * 40


def test_referrer_rejects_bad_input(referrer, scene):
    with pytest.raises(DataError, match="thermal image is"):
        referrer.refer("the car", scene[0], SIZE, thermal=np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match="image_size"):
        referrer.refer("the car", scene[0], (0, 480))
    with pytest.raises(DataError, match="empty"):
        referrer.refer("  ", scene[0], SIZE)


def test_no_detections_is_a_no_match(referrer):
    result = referrer.refer("the person", [], SIZE)
    assert result.no_match and result.mask.shape == (480, 640)


def test_box_union_iou():
    assert box_union_iou([[0, 0, 10, 10]], [[0, 0, 10, 10]], SIZE) == 1.0
    assert box_union_iou([[0, 0, 10, 10]], [[0, 0, 10, 20]], SIZE) == pytest.approx(0.5)
    assert box_union_iou([[0, 0, 10, 10], [20, 0, 30, 10]], [[0, 0, 10, 10]], SIZE) == pytest.approx(0.5)
    assert box_union_iou([], [], SIZE) == 1.0 and box_union_iou([], [[0, 0, 1, 1]], SIZE) == 0.0


# ----------------------------------------------------------------------------- the second look

@pytest.fixture
def unsure_scene():
    """A confident car, a person the detector is unsure of (0.2), a very unsure bicycle (0.1)."""
    detections = [det(100, 200, 250, 300, "car", 0.9), det(300, 180, 330, 300, "person", 0.2),
                  det(400, 230, 460, 300, "bicycle", 0.1)]
    thermal = np.full((480, 640), 40, np.uint8)
    thermal[185:295, 305:325] = 200  # the person is warm, so the thermal check keeps it
    return detections, thermal


def test_low_scored_detections_count_only_when_the_confident_ones_hold_no_match(unsure_scene):
    detections, thermal = unsure_scene
    referrer = Referrer(min_score=0.25, second_look_score=0.15)
    person = referrer.refer("the person", detections, SIZE, thermal=thermal)
    assert person.selected == [1] and not person.no_match and "second look" in person.explanation
    assert person.considered == [0]  # matched against at the operating score: only the confident car
    cold = Referrer(min_score=0.1).refer("the car", detections, SIZE, thermal=np.full((480, 640), 40, np.uint8))
    assert cold.considered == [0, 2]  # the person is no warmer than its surroundings: the thermal check drops it
    # the confident car is found in the first look; the unsure person is not added to "everything"
    assert referrer.refer("the car", detections, SIZE, thermal=thermal).selected == [0]
    assert referrer.refer("everything", detections, SIZE, thermal=thermal).selected == [0]
    # below the second-look floor: no match, and the explanation says both looks failed
    bicycle = referrer.refer("the bicycle", detections, SIZE, thermal=thermal)
    assert bicycle.no_match and "found none either" in bicycle.explanation
    assert referrer.refer("the dog", detections, SIZE, thermal=thermal).no_match


def test_second_look_off_and_bad_floors(unsure_scene):
    detections, thermal = unsure_scene
    for off in (None, 0.25, 0.5):
        assert Referrer(second_look_score=off).refer("the person", detections, SIZE, thermal=thermal).no_match
    assert Referrer(min_score=0.0, second_look_score=None).refer(
        "the bicycle", detections, SIZE, thermal=thermal).selected == [2]
    for bad in ({"min_score": 1.5}, {"min_score": -0.1}, {"second_look_score": 2.0}):
        with pytest.raises(ConfigError, match="must be within"):
            Referrer(**bad)
