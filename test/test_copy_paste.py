"""Copy-paste augmentation for detector fine-tuning: pasted objects carry their pixels and their labels, never
cover a labelled object of the frame, take a touching object (a rider) along, and classes are drawn equally."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.detection.finetune.paste import (
    MAX_OVERLAP,
    ObjectPool,
    covered_share,
    cut_region,
    feather,
    paste_objects,
)
from ris_fusion_ros.core.detection.finetune.samples import Augment, Sample, draw, place
from ris_fusion_ros.core.errors import ConfigError

SIZE = (120, 160)  # height, width


def _frame(value: int, boxes: list[list[float]], object_value: int | None = None) -> Sample:
    """A flat frame of ``value`` whose labelled boxes are filled with ``object_value`` (default value + 100);
    a second rendering is the same scene inverted, so a paste must come from the same rendering."""
    image = np.full((*SIZE, 3), value, np.uint8)
    rows = np.array(boxes, np.float32).reshape(-1, 5)
    for _, x1, y1, x2, y2 in rows:
        image[int(y1):int(y2), int(x1):int(x2)] = value + 100 if object_value is None else object_value
    return Sample(f"f{value}", image, rows, (255 - image,))


def test_covered_share_is_the_share_of_each_box_inside_the_other():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    b = np.array([[5, 0, 15, 10]])
    assert covered_share(a, b)[:, 0] == pytest.approx([0.5, 0.0])
    assert covered_share(b, a)[0] == pytest.approx([0.5, 0.0])


def test_feather_is_one_inside_and_falls_towards_every_edge():
    w = feather(20, 30, 4)[..., 0]
    assert w.shape == (20, 30) and w[10, 15] == 1.0
    assert w[0, 15] < 0.2 and w[10, 0] < 0.2 and w[19, 29] < 0.2
    assert (np.diff(w[:10, 15]) >= 0).all()


def test_pasted_objects_bring_their_pixels_and_labels_and_never_cover_a_labelled_object():
    target = _frame(10, [[0, 20, 30, 40, 60]])
    sources = [_frame(40, [[1, 100, 50, 130, 90]]), _frame(70, [[2, 60, 30, 90, 100]])]
    pool = ObjectPool(sources)
    rng = np.random.default_rng(0)
    pasted_any = 0
    for rendering in (0, 1):
        picture = target.rendering(rendering)
        for _ in range(40):
            image, boxes = paste_objects(picture, target.boxes, rendering, pool, rng, attempts=2)
            assert image.shape == picture.shape and image.dtype == np.uint8
            assert np.array_equal(boxes[:1], target.boxes)  # the frame's own labels stay first and unchanged
            assert np.array_equal(image[40:60, 20:30], picture[40:60, 20:30])  # its object is never covered
            for c, x1, y1, x2, y2 in boxes[1:]:
                pasted_any += 1
                source = sources[int(c) - 1]
                centre = image[int((y1 + y2) / 2), int((x1 + x2) / 2)]
                assert tuple(centre) == tuple(source.rendering(rendering)[int(source.boxes[0, 2]) + 1,
                                                                        int(source.boxes[0, 1]) + 1])
                assert covered_share(np.array([[x1, y1, x2, y2]]), target.boxes[:, 1:]).max() <= MAX_OVERLAP
                assert y1 == source.boxes[0, 2] and y2 == source.boxes[0, 4]  # same height in the frame
                assert x2 - x1 == source.boxes[0, 3] - source.boxes[0, 1]
            if len(boxes) == 1:
                assert np.array_equal(image, picture)
    assert pasted_any > 20


def test_a_touching_labelled_object_travels_with_the_cut_and_a_frame_of_another_size_is_skipped():
    bicycle, rider = [1, 40, 60, 80, 100], [0, 50, 30, 70, 80]  # the rider's box reaches well above the bicycle's
    source = _frame(40, [bicycle, rider])
    region, carried = cut_region(source.boxes, 0, (SIZE[1], SIZE[0]), context=0.1)
    assert len(carried) == 2 and region[1] <= 30 and region[3] >= 100
    rng = np.random.default_rng(1)
    target = _frame(10, [])
    image, boxes = paste_objects(target.image, target.boxes, 0, ObjectPool([source]), rng, attempts=3)
    assert len(boxes) % 2 == 0 and len(boxes) >= 2  # every paste carries both
    small = Sample("small", np.zeros((60, 80, 3), np.uint8), np.zeros((0, 5), np.float32))
    image, boxes = paste_objects(small.image, small.boxes, 0, ObjectPool([source]), rng, attempts=3)
    assert len(boxes) == 0 and not image.any()


def test_objects_are_drawn_class_balanced_and_an_unlabelled_pool_is_refused():
    many_people = [_frame(10, [[0, 5 * k, 10, 5 * k + 4, 20] for k in range(20)])]
    one_bicycle = [_frame(20, [[1, 50, 50, 70, 80]])]
    pool = ObjectPool(many_people + one_bicycle)
    rng = np.random.default_rng(2)
    drawn = [pool.draw(rng)[0] for _ in range(2000)]
    assert 0.45 < np.mean(drawn) < 0.55  # sample 1 (the one bicycle) as often as all twenty people together
    with pytest.raises(ConfigError, match="have none"):
        ObjectPool([Sample("empty", np.zeros((8, 8, 3), np.uint8), np.zeros((0, 5), np.float32))])


def test_without_pasting_a_draw_spends_no_randomness_on_it():
    samples = [_frame(10 * k, [[k % 3, 25 * k - 15, 10, 25 * k + 10, 60]]) for k in range(1, 5)]
    pool = ObjectPool(samples)
    for augment in (Augment(mosaic=0.5), Augment(mosaic=0.0, plain_share=0.0)):
        a, b = np.random.default_rng(5), np.random.default_rng(5)
        for i in range(12):
            image_a, boxes_a = draw(samples, i % 4, (128, 128), a, augment)
            image_b, boxes_b = draw(samples, i % 4, (128, 128), b, augment, pool)
            assert np.array_equal(image_a, image_b) and np.array_equal(boxes_a, boxes_b)
    # with pasting on, frames gain objects
    rng = np.random.default_rng(6)
    counts = [len(place(samples[0], (128, 160), rng, Augment(paste=1.0, plain_share=1.0, flip=0.0), pool)[1])
              for _ in range(30)]
    assert max(counts) > 1
