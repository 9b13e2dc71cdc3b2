"""Thermal-saliency control of RisFuseNet: what counts as warm, how it meets a given control map,
and that the network changes exactly the warm pixels toward infrared."""

import numpy as np
import pytest

from ris_fusion_ros.core.data import open_dataset
from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.fusion import create_method
from ris_fusion_ros.core.fusion.ours.saliency import ThermalSaliency


def _blob_scene(warmth: int) -> np.ndarray:
    ir = np.full((120, 160), 60, np.uint8)
    ir[50:70, 70:80] = 60 + warmth  # a person-sized warm blob
    return ir


def test_a_warm_blob_is_salient_and_its_surroundings_are_not():
    sal = ThermalSaliency().map(_blob_scene(80))
    assert sal[60, 75] == pytest.approx(1.0)
    assert sal[10, 10] == 0.0 and sal[60, 20] == 0.0
    assert sal.dtype == np.float32 and sal.shape == (120, 160)


def test_contrast_below_the_floor_and_a_uniform_frame_give_nothing():
    assert ThermalSaliency().map(_blob_scene(8)).max() == 0.0  # 8 grey levels < low (10)
    assert ThermalSaliency().map(np.full((64, 64), 200, np.uint8)).max() == 0.0  # hot but uniform


def test_saliency_grows_with_contrast_and_scales_with_strength():
    weak, strong = ThermalSaliency().map(_blob_scene(30)), ThermalSaliency().map(_blob_scene(80))
    assert 0.0 < weak[60, 75] < strong[60, 75]
    assert ThermalSaliency(strength=0.5).map(_blob_scene(80))[60, 75] == pytest.approx(0.5)


def test_float_input_in_unit_range_gives_the_same_map():
    ir = _blob_scene(40)
    np.testing.assert_allclose(ThermalSaliency().map(ir.astype(np.float32) / 255.0), ThermalSaliency().map(ir))


def test_a_given_control_wins_where_it_is_full_and_blends_where_partial():
    ir = _blob_scene(80)
    sal = ThermalSaliency().map(ir)
    assert ThermalSaliency().combine(ir, None) == pytest.approx(sal)
    for value in (1.0, -1.0):
        combined = ThermalSaliency().combine(ir, np.full(ir.shape, value, np.float32))
        assert np.all(combined == value)
    half = ThermalSaliency().combine(ir, np.full(ir.shape, -0.5, np.float32))
    assert half[60, 75] == pytest.approx(0.0) and half[10, 10] == pytest.approx(-0.5)
    off = ThermalSaliency(strength=0.0)
    assert off.combine(ir, None) is None
    given = np.zeros(ir.shape, np.float32)
    assert off.combine(ir, given) is given


@pytest.mark.parametrize("kwargs", [{"strength": 1.5}, {"strength": -0.1}, {"window": 100}, {"window": 1},
                                    {"low": 40, "high": 40}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        ThermalSaliency(**kwargs)


def test_a_colour_frame_is_refused():
    with pytest.raises(DataError, match="HxW"):
        ThermalSaliency().map(np.zeros((8, 8, 3), np.uint8))


def test_risfusenet_leans_warm_pixels_to_infrared_and_leaves_the_rest(shared_root):
    dataset = open_dataset("msrs", shared=shared_root)
    pair = dataset.load(next(r for r in dataset.records if r.pair_id == "00008N"))
    with_saliency, plain = create_method("risfusenet"), create_method("risfusenet-plain")
    assert with_saliency.info()["thermal_saliency"] == 1.0 and plain.info()["thermal_saliency"] == 0.0
    fused, reference = with_saliency.fuse(pair.ir, pair.vis), plain.fuse(pair.ir, pair.vis)
    sal = ThermalSaliency().map(pair.ir)
    warm, cold = sal >= 0.99, sal == 0.0
    assert warm.sum() > 200 and cold.mean() > 0.5
    gray = lambda im: im.astype(np.float64).mean(axis=2)  # noqa: E731
    gap = lambda im: np.abs(gray(im) - pair.ir)  # noqa: E731
    assert gap(fused)[warm].mean() < 0.8 * gap(reference)[warm].mean()  # warm objects: closer to infrared
    change = np.abs(fused.astype(int) - reference.astype(int)).max(axis=2)
    assert np.percentile(change[cold], 99) <= 2  # cold pixels: (nearly) the plain fusion
