"""Thermal normalisation: fixed and percentile windows, smoothing, non-finite pixels, edge cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.io.thermal import ThermalNormalization, ThermalNormalizer


def expected(frame: np.ndarray, low: float, high: float) -> np.ndarray:
    """The documented linear map, computed in float64 on its own."""
    return np.clip(np.rint((frame.astype(np.float64) - low) * 255.0 / (high - low)), 0, 255).astype(np.uint8)


def scene(seed: int = 0, shape=(48, 64)) -> np.ndarray:
    """A radiometric-looking uint16 frame: a smooth gradient (3000-4000 counts) plus sensor noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(3000, 4000, shape[1])[None, :].repeat(shape[0], 0)
    return (ramp + rng.normal(0, 5, shape)).astype(np.uint16)


def test_fixed_window_maps_linearly_and_clips():
    norm = ThermalNormalizer(ThermalNormalization(mode="fixed", fixed_min=1000, fixed_max=2020))
    frame = np.array([[0, 1000, 1004, 1510, 2020, 65535]], np.uint16)
    assert norm(frame).tolist() == [[0, 0, 1, 128, 255, 255]]
    assert (norm.last_stats.low, norm.last_stats.high) == (1000.0, 2020.0)


def test_fixed_window_applies_to_uint8_too():
    norm = ThermalNormalizer(ThermalNormalization(mode="fixed", fixed_min=100, fixed_max=200))
    assert norm(np.array([[50, 150, 250]], np.uint8)).tolist() == [[0, 128, 255]]


def test_fixed_mode_on_kelvin_floats_zeroes_and_counts_non_finite_pixels():
    norm = ThermalNormalizer(ThermalNormalization(mode="fixed", fixed_min=273.15, fixed_max=373.15))
    frame = np.array([[273.15, 323.15, np.nan], [np.inf, -np.inf, 400.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = norm(frame)
    assert out.tolist() == [[0, 128, 0], [0, 0, 255]]
    assert norm.last_stats.nonfinite_pixels == 3
    norm(frame)
    assert norm.total_nonfinite == 6


def test_first_percentile_frame_uses_its_own_percentiles():
    frame = scene()
    norm = ThermalNormalizer(ThermalNormalization(low_percentile=2.0, high_percentile=98.0))
    out = norm(frame)
    low, high = np.percentile(frame, [2.0, 98.0])
    assert norm.window == pytest.approx((low, high))
    np.testing.assert_array_equal(out, expected(frame, low, high))
    assert (out == 0).mean() == pytest.approx(0.02, abs=0.01) and (out == 255).mean() == pytest.approx(0.02, abs=0.01)


def test_window_is_an_exponential_moving_average_of_frame_percentiles():
    first, second = scene(1), scene(2) + np.uint16(500)
    norm = ThermalNormalizer(ThermalNormalization(smoothing=0.75))
    norm(first)
    out = norm(second)
    p1, p2 = np.percentile(first, [1, 99]), np.percentile(second, [1, 99])
    low, high = 0.75 * p1 + 0.25 * p2
    assert norm.window == pytest.approx((low, high))
    assert norm.last_stats.frame_low == pytest.approx(p2[0]) and norm.last_stats.frame_high == pytest.approx(p2[1])
    np.testing.assert_array_equal(out, expected(second, low, high))


def background_levels(smoothing: float, frames: int, hot_fraction_rows: slice) -> list[float]:
    """Mean grey of the background, frame by frame, after a hot object enters a steady scene."""
    background = scene(3)
    with_object = background.copy()
    with_object[hot_fraction_rows, 20:40] = 9000
    mask = with_object != 9000
    norm = ThermalNormalizer(ThermalNormalization(smoothing=smoothing))
    levels = [float(norm(background)[mask].mean()) for _ in range(20)][-1:]
    levels += [float(norm(with_object)[mask].mean()) for _ in range(frames)]
    return levels


def test_smoothing_spreads_a_big_hot_object_over_frames_instead_of_one_jump():
    rows = slice(10, 30)  # 12 % of the pixels, far hotter than the scene: the 99th percentile jumps
    sharp = background_levels(0.0, 60, rows)
    smooth = background_levels(0.9, 60, rows)
    assert sharp[0] - sharp[1] > 60 and sharp[1:] == [sharp[1]] * 60  # one big step at once
    steps = -np.diff(smooth)
    assert steps[0] < 0.5 * (sharp[0] - sharp[1])
    assert (np.diff(steps[:15]) < 0).all()  # each step smaller than the one before: a gradual fade
    assert smooth[-1] == pytest.approx(sharp[-1], abs=1.0)  # and it settles where the unsmoothed one is


def test_a_small_hot_object_does_not_change_the_window_at_all():
    rows = slice(10, 11)  # 20 pixels of 3072, under the 1 % that the 99th percentile ignores
    levels = background_levels(0.0, 3, rows)
    assert max(levels) - min(levels) < 1.0  # under one grey level


def test_reset_forgets_the_smoothed_window():
    norm = ThermalNormalizer()
    norm(scene(4))
    hot = scene(5) + np.uint16(2000)
    norm.reset()
    assert norm.window is None
    norm(hot)
    assert norm.window == pytest.approx(tuple(np.percentile(hot, [1, 99])))


def test_percentiles_ignore_non_finite_pixels_which_come_out_black():
    rng = np.random.default_rng(6)
    frame = rng.normal(300.0, 10.0, (32, 32)).astype(np.float32)
    frame[0, :8] = np.nan
    frame[1, :4] = np.inf
    frame[2, :2] = -np.inf
    norm = ThermalNormalizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = norm(frame)
    finite = np.isfinite(frame)
    low, high = np.percentile(frame[finite], [1, 99])
    assert norm.window == pytest.approx((low, high))
    assert (out[~finite] == 0).all()
    np.testing.assert_array_equal(out[finite], expected(frame[finite], low, high))
    assert norm.last_stats.nonfinite_pixels == 14 and norm.total_nonfinite == 14


def test_an_all_nan_first_frame_gives_black_and_leaves_no_window():
    norm = ThermalNormalizer()
    out = norm(np.full((4, 4), np.nan, np.float32))
    assert out.dtype == np.uint8 and not out.any()
    assert norm.window is None and norm.last_stats.nonfinite_pixels == 16
    norm(np.arange(16, dtype=np.float32).reshape(4, 4))
    assert norm.window is not None


def test_an_all_nan_frame_keeps_the_previous_window():
    norm = ThermalNormalizer()
    norm(scene(7).astype(np.float32))
    window = norm.window
    assert not norm(np.full((48, 64), np.nan, np.float32)).any()
    assert norm.window == window


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64, np.int16])
def test_constant_frames_never_divide_by_zero(dtype):
    norm = ThermalNormalizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = norm(np.full((8, 8), 300, dtype))
    assert out.dtype == np.uint8 and (out == 128).all()


def test_min_span_keeps_a_uniform_scene_from_becoming_full_range_noise():
    rng = np.random.default_rng(8)
    flat = (1000 + rng.normal(0, 2, (32, 32))).astype(np.uint16)
    stretched = ThermalNormalizer()(flat)
    calm = ThermalNormalizer(ThermalNormalization(min_span=200.0))(flat)
    assert np.ptp(stretched) == 255
    assert np.abs(calm.astype(int) - 128).max() <= 10


def test_uint8_passes_through_in_percentile_mode_unless_disabled():
    frame = np.array([[10, 20], [30, 40]], np.uint8)
    norm = ThermalNormalizer()
    out = norm(frame)
    np.testing.assert_array_equal(out, frame)
    assert not np.shares_memory(out, frame) and norm.last_stats.passthrough and norm.window is None
    stretched = ThermalNormalizer(ThermalNormalization(uint8_passthrough=False, low_percentile=0, high_percentile=100))
    assert stretched(frame).tolist() == [[0, 85], [170, 255]]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_every_supported_dtype_gives_uint8_hxw(dtype):
    frame = (np.arange(12).reshape(3, 4) * 10).astype(dtype)
    for config in (ThermalNormalization(), ThermalNormalization(mode="fixed", fixed_min=0, fixed_max=110)):
        out = ThermalNormalizer(config)(frame[:, :, None])
        assert out.dtype == np.uint8 and out.shape == (3, 4)


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"mode": "auto"}, r"mode must be one of \['percentile', 'fixed'\], got 'auto'"),
        ({"mode": "fixed", "fixed_min": 10}, r"needs both fixed_min and fixed_max"),
        ({"mode": "fixed", "fixed_min": 10, "fixed_max": 10}, r"fixed_max \(10\) must be greater than fixed_min"),
        ({"mode": "fixed", "fixed_min": float("nan"), "fixed_max": 10}, r"fixed_min must be finite"),
        ({"mode": "fixed", "fixed_min": "0", "fixed_max": 10}, r"fixed_min must be a number"),
        ({"low_percentile": -1.0}, r"low_percentile must be within 0-100"),
        ({"high_percentile": 101.0}, r"high_percentile must be within 0-100"),
        ({"low_percentile": 60.0, "high_percentile": 40.0}, r"low_percentile \(60.0\) must be below"),
        ({"smoothing": 1.0}, r"smoothing must be in \[0, 1\)"),
        ({"smoothing": -0.1}, r"smoothing must be in"),
        ({"min_span": -1.0}, r"min_span must be >= 0"),
        ({"uint8_passthrough": "yes"}, r"uint8_passthrough must be true or false"),
    ],
)
def test_config_validation_names_the_field(fields, pattern):
    with pytest.raises(ConfigError, match=pattern):
        ThermalNormalization(**fields).validate()
    with pytest.raises(ConfigError, match=pattern):
        ThermalNormalizer(ThermalNormalization(**fields))


@pytest.mark.parametrize(
    ("frame", "pattern"),
    [
        (np.zeros((4, 4, 3), np.uint8), r"single-channel HxW, got shape \(4, 4, 3\)"),
        (np.zeros((0, 4), np.uint16), r"zero size"),
        (np.zeros((4, 4), bool), r"integers or floats, got dtype bool"),
        (np.zeros((4, 4), np.complex64), r"integers or floats"),
        ([[1, 2]], r"must be a numpy array, got list"),
    ],
)
def test_bad_frames_raise_data_errors(frame, pattern):
    with pytest.raises(DataError, match=pattern):
        ThermalNormalizer()(frame)
