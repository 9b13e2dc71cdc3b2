"""EditStage: operator edit commands on the fused stream, targets resolved by the real referrer over
the latest detections; the edit follows the object between frames; bad/unknown commands change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.color import to_gray
from ris_fusion_ros.core.detection.types import Detection
from ris_fusion_ros.core.fusion import RuntimeOptions, create_method
from ris_fusion_ros.core.pipeline import EditStage, ReferringStage

H, W = 120, 160


def _pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ir = rng.integers(30, 90, (H, W), dtype=np.uint8)
    vis = rng.integers(60, 140, (H, W, 3), dtype=np.uint8)
    return ir, vis


def _person(x1: int, y1: int, x2: int, y2: int) -> Detection:
    return Detection((float(x1), float(y1), float(x2), float(y2)), 0.9, 0, "person")


def _box(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y1:y2, x1:x2] = True
    return mask


@pytest.fixture(scope="module")
def fusion():
    return create_method("max", RuntimeOptions("onnxruntime", "cpu", "fp32", 1))


@pytest.fixture
def stage() -> EditStage:
    return EditStage(ReferringStage.for_edits(), max_length=200, background=False)


def test_text_rules_and_unknown_commands_change_nothing(stage, fusion):
    ir, vis = _pair()
    plain = fusion.fuse(ir, vis)
    for text, kind in [("brighten\x07 everything", "rejected"), ("x" * 201, "rejected"), ("   ", "empty"),
                       ("sing a song", "unknown"), (42, "rejected")]:
        update = stage.command(text)
        assert update.kind == kind, (text, update)
        assert update.accepted == (kind == "empty")
        assert update.message
    assert not stage.active
    np.testing.assert_array_equal(stage.render(ir, vis, fusion), plain)
    assert stage.last_edit_ms is None
    assert stage.status()["commands_rejected"] == 4


def test_region_edit_follows_the_detections_between_frames(stage, fusion):
    ir, vis = _pair()
    plain = to_gray(fusion.fuse(ir, vis))
    update = stage.command("  brighten the person  ")
    assert update.accepted and update.targets == ("person",)
    assert "needs detections" in update.message  # none received yet: the operator is told
    # no detections yet: the edit is active but has no region, the frame is plain
    np.testing.assert_array_equal(to_gray(stage.render(ir, vis, fusion)), plain)
    for box in [(20, 30, 60, 100), (90, 10, 140, 70)]:  # the person moved between two frames
        stage.set_detections([_person(*box), Detection((0.0, 0.0, 10.0, 10.0), 0.8, 2, "car")], (W, H))
        out = to_gray(stage.render(ir, vis, fusion))
        change = out - plain
        inside = _box(*box)
        assert change[~inside].max() == 0  # feathered inward: nothing outside the referred box changes
        assert change[inside].mean() > 5.0
        assert stage.last_edit_ms is not None and stage.last_edit_ms > 0
    assert stage.status()["edit_ms"]["n"] == 3


def test_background_is_the_complement_of_the_detections_and_reset_restores(stage, fusion):
    ir, vis = _pair(1)
    plain = fusion.fuse(ir, vis)
    stage.set_detections([_person(20, 30, 60, 100), _person(100, 20, 150, 90)], (W, H))
    assert stage.command("darken the background").accepted
    change = to_gray(stage.render(ir, vis, fusion)) - to_gray(plain)
    objects = _box(20, 30, 60, 100) | _box(100, 20, 150, 90)
    assert np.abs(change[objects]).max() == 0
    assert change[~objects].mean() < -3.0
    again = stage.command("darken the background")  # repeated: stronger
    assert again.accepted
    stronger = to_gray(stage.render(ir, vis, fusion)) - to_gray(plain)
    assert stronger[~objects].mean() < change[~objects].mean() - 1.0
    reset = stage.command("reset")
    assert reset.accepted and reset.kind == "reset" and not stage.active
    np.testing.assert_array_equal(stage.render(ir, vis, fusion), plain)


def test_detections_of_another_frame_size_are_not_used(stage, fusion):
    ir, vis = _pair()
    stage.set_detections([_person(20, 30, 60, 100)], (W * 2, H * 2))  # e.g. a camera change
    stage.command("brighten the person")
    np.testing.assert_array_equal(stage.render(ir, vis, fusion), fusion.fuse(ir, vis))


def test_unknown_noun_is_prepared_off_the_frame_path(fusion):
    """A phrase not yet parsed is skipped (reported 'preparing'), never parsed on the frame path."""
    stage = EditStage(ReferringStage.for_edits(), background=True)
    started = []

    class SlowReferrer:  # stands in for the sentence-encoder load of an unknown noun
        def __init__(self, inner):
            self.inner = inner

        def parse(self, text):
            started.append(text)
            import time
            time.sleep(0.5)
            return self.inner.parse(text)

        def refer(self, *args, **kwargs):
            return self.inner.refer(*args, **kwargs)

    stage.referring.referrer = SlowReferrer(stage.referring.referrer)
    ir, vis = _pair()
    stage.set_detections([_person(20, 30, 60, 100)], (W, H))
    assert stage.command("brighten the person").accepted
    assert stage.status()["targets"] == {"person": "preparing"}
    np.testing.assert_array_equal(stage.render(ir, vis, fusion), fusion.fuse(ir, vis))  # not ready: plain
    assert stage.wait_ready(5.0) and started == ["person"]
    assert stage.status()["targets"] == {}
    assert (stage.render(ir, vis, fusion) != fusion.fuse(ir, vis)).any()
