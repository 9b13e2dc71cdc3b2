"""EditSession: region edits stay in their region, repeat/undo/reset, background adaptation, fusion control."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ris_fusion_ros.core.color import to_gray
from ris_fusion_ros.core.editing import OBJECTS, EditSession
from ris_fusion_ros.core.editing.denoise import fit_zero_shot_unit, fixed_denoise
from ris_fusion_ros.core.editing.merge import feathered_weight
from ris_fusion_ros.core.editing.retinex import exposure_gain
from ris_fusion_ros.core.errors import ConfigError, DataError


def _scene(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A textured RGB frame with a darker left half (smooth gradients plus noise-free texture)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 40 * np.sin(xx / 7.0) * np.cos(yy / 9.0) + 60 * (xx > w // 2)
    rgb = np.stack([base, base * 0.9, base * 0.8], axis=-1) + rng.normal(0, 2, (h, w, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _mask(h: int = 120, w: int = 160) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[30:90, 40:100] = 255
    return mask


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@pytest.mark.parametrize("command", ["brighten the person", "darken the person", "highlight the person",
                                     "denoise the person", "brighten the person strongly and highlight it"])
def test_region_edit_changes_inside_only(command):
    frame, mask = _scene(), _mask()
    session = EditSession(background=False)
    assert session.command(command).ok
    out = session.apply(frame, {"person": mask})
    inside = mask > 0
    change = np.abs(to_gray(out) - to_gray(frame))
    assert change[~inside].max() == 0  # feathered inward: outside is untouched, exactly
    assert change[inside].mean() > 0.2


def test_background_is_the_complement_of_objects_and_other_targets():
    frame, mask = _scene(), _mask()
    session = EditSession(background=False)
    session.command("darken the background")
    out = session.apply(frame, {OBJECTS: mask})
    change = np.abs(to_gray(out) - to_gray(frame))
    assert change[mask > 0].max() == 0 and change[mask == 0].mean() > 1.0


def test_brighten_darken_directions_repeat_and_cancel():
    frame, masks = _scene(), {}
    session = EditSession()
    session.command("brighten")
    once = to_gray(session.apply(frame, masks)).mean()
    session.command("brighten the image")  # same target, same effect: stronger
    twice = to_gray(session.apply(frame, masks)).mean()
    assert to_gray(frame).mean() < once < twice
    session.command("darken everything")
    session.command("darken everything")
    assert session.edits == {}  # opposite commands cancel
    np.testing.assert_array_equal(session.apply(frame, masks), frame)
    session.command("darken everything")
    assert to_gray(session.apply(frame, masks)).mean() < to_gray(frame).mean()


def test_undo_and_reset_restore_plain_frames():
    frame = _scene()
    session = EditSession()
    session.command("brighten")
    session.command("highlight everything")
    session.command("undo")
    assert list(session.edits) == [("everything", "exposure")]
    session.command("reset")
    np.testing.assert_array_equal(session.apply(frame, {}), frame)
    assert session.command("undo").ok  # undo the reset
    assert list(session.edits) == [("everything", "exposure")]


def test_unknown_command_changes_nothing():
    session = EditSession()
    session.command("brighten the car")
    before = session.edits
    reply = session.command("paint the car blue")
    assert not reply.ok and "Nothing changed" in reply.message
    assert session.edits == before


def test_missing_target_skips_the_edit_and_bad_mask_is_an_error():
    frame = _scene()
    session = EditSession()
    session.command("brighten the dog")
    np.testing.assert_array_equal(session.apply(frame, {}), frame)  # no dog in this frame
    with pytest.raises(DataError, match="mask for 'dog'"):
        session.apply(frame, {"dog": np.ones((10, 10), np.uint8)})


def test_edit_follows_the_mask_as_it_moves():
    frame = _scene()
    session = EditSession()
    session.command("brighten the car")
    for shift in (0, 30):
        mask = np.roll(_mask(), shift, axis=1)
        change = np.abs(to_gray(session.apply(frame, {"car": mask})) - to_gray(frame))
        assert change[mask == 0].max() == 0 and change[mask > 0].mean() > 1


def test_denoise_adapts_in_the_background_without_blocking():
    clean = _scene(240, 320)
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    session = EditSession()
    session.command("denoise")
    start = time.perf_counter()
    first = session.apply(noisy, {})
    assert time.perf_counter() - start < 0.5
    np.testing.assert_array_equal(first, noisy)  # not ready yet: frame passes unedited
    assert session.status()["denoise"]["everything"] in ("preparing",) or "ready" in \
        session.status()["denoise"]["everything"]
    assert session.wait_ready(10.0)
    denoised = session.apply(noisy, {})
    assert _psnr(to_gray(denoised), to_gray(clean)) > _psnr(to_gray(noisy), to_gray(clean)) + 3


def test_zero_shot_unit_removes_noise_and_spares_clean_images():
    clean = to_gray(_scene(240, 320)).astype(np.float32)
    noisy = clean + np.random.default_rng(2).normal(0, 20, clean.shape).astype(np.float32)
    unit = fit_zero_shot_unit(noisy)
    assert _psnr(unit.apply(noisy), clean) > _psnr(noisy, clean) + 4
    assert _psnr(fit_zero_shot_unit(clean).apply(clean), clean) > _psnr(fixed_denoise(clean), clean)
    assert unit.fit_seconds < 2.0
    with pytest.raises(DataError):
        fit_zero_shot_unit(np.zeros((5, 5)))


def test_feathered_weight_is_zero_outside_and_one_deep_inside():
    mask = _mask() > 0
    weight = feathered_weight(mask, 4.0)
    assert weight[~mask].max() == 0.0 and weight[60, 70] == 1.0
    assert 0 < weight[30, 70] < 1 or weight[31, 70] < 1  # a ramp at the border


def test_exposure_gain_signs():
    frame = _scene()
    assert exposure_gain(frame, 1.0).min() >= 1.0
    assert exposure_gain(frame, -1.0).max() <= 1.0
    np.testing.assert_allclose(exposure_gain(frame, 0.0), 1.0)


def test_inclination_goes_through_the_fusion_control(shared_root):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.evaluation.control_eval import mi_to_source
    from ris_fusion_ros.core.fusion import create_method

    pair = open_dataset("msrs", shared=shared_root)[0]
    fusion = create_method("risfusenet")
    mask = np.zeros(pair.ir.shape, np.uint8)
    mask[100:300, 200:400] = 255
    session = EditSession()
    plain = session.render(pair.ir, pair.vis, {"person": mask}, fusion)
    session.command("show the person in infrared")
    with pytest.raises(ConfigError, match="inclination"):
        session.apply(plain, {"person": mask})
    edited = session.render(pair.ir, pair.vis, {"person": mask}, fusion)
    inside = mask > 0
    change = np.abs(to_gray(edited) - to_gray(plain))
    assert change[~inside].mean() <= 1.0 and change[inside].mean() > 2.0
    box = (slice(100, 300), slice(200, 400))
    ir = pair.ir.astype(float)[box]
    assert mi_to_source(ir, to_gray(edited)[box]) > mi_to_source(ir, to_gray(plain)[box])
    np.testing.assert_array_equal(session.apply(plain, {"person": mask}, ir=pair.ir, vis=pair.vis, fusion=fusion),
                                  edited)
