"""Colour handling shared by every fusion method, and the two classic baselines."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.color import luminance, merge_luma, split_luma, to_gray
from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.fusion import available_methods, create_method

RNG = np.random.default_rng(0)


def test_luma_chroma_round_trip_is_within_two_levels():
    rgb = RNG.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    y, ycrcb = split_luma(rgb)
    np.testing.assert_allclose(y, luminance(rgb), atol=0.51)
    back = merge_luma(ycrcb.copy(), y.astype(np.float32) / 255.0)
    assert np.abs(back.astype(int) - rgb).max() <= 2  # integer chroma: at most 1.4 levels per channel


def test_luma_weights_match_bt601():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(luminance(rgb)[0], [76.245, 149.685, 29.07])
    np.testing.assert_array_equal(to_gray(rgb)[0], [76, 150, 29])
    with pytest.raises(ValueError, match="to_gray expects an HxW"):
        to_gray(np.zeros((2, 2, 2)))


def test_average_and_max_fuse_luminance_and_keep_chroma():
    ir = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    vis = RNG.integers(60, 190, (20, 30, 3), dtype=np.uint8)  # mid tones: no clipping on recombination
    y, ycrcb = split_luma(vis)
    y = y.astype(np.float64)
    avg = create_method("average").fuse(ir, vis)
    mx = create_method("max").fuse(ir, vis)
    assert avg.shape == mx.shape == vis.shape and avg.dtype == np.uint8
    expected_avg = (ir + y) / 2
    unclipped = (avg > 0).all(axis=-1) & (avg < 255).all(axis=-1)  # no channel saturated on recombination
    assert unclipped.mean() > 0.5
    assert np.abs(luminance(avg) - expected_avg)[unclipped].max() < 1.5
    fused_chroma = split_luma(avg)[1][..., 1:].astype(int)
    assert np.abs(fused_chroma - ycrcb[..., 1:])[unclipped].max() <= 2
    expected_max = np.maximum(ir, y)
    ok = (mx > 0).all(axis=-1) & (mx < 255).all(axis=-1)
    assert np.abs(luminance(mx) - expected_max)[ok].max() < 1.5


def test_gray_visible_gives_gray_output():
    ir = np.array([[0, 255], [100, 50]], np.uint8)
    vis = np.repeat(np.array([[10, 20], [200, 50]], np.uint8)[..., None], 3, axis=2)
    out = create_method("max").fuse(ir, vis)
    np.testing.assert_array_equal(out[..., 0], [[10, 255], [200, 50]])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


@pytest.mark.parametrize(("ir", "vis", "message"), [
    (np.zeros((4, 4), np.uint8), np.zeros((4, 5, 3), np.uint8), "infrared is 4x4 but visible is 5x4"),
    (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), "infrared must be a single-channel"),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), "visible must be an HxWx3"),
    (np.zeros((4, 4), np.uint16), np.zeros((4, 4, 3), np.uint8), "infrared must be uint8, got uint16"),
])
def test_bad_pairs_are_rejected_with_the_reason(ir, vis, message):
    with pytest.raises(DataError, match=message):
        create_method("average").fuse(ir, vis)


def test_registry_lists_methods_and_rejects_unknown_names():
    names = set(available_methods())
    assert {"average", "max", "risfusenet", "seafusion", "tardal", "didfuse", "ifcnn", "densefuse"} <= names
    with pytest.raises(ConfigError, match=r"unknown fusion method 'magic'; available: average, .*max.*risfusenet"):
        create_method("magic")


def test_average_of_integers_keeps_every_gray_level():
    """Half-up rounding: means of integers of different parity must not all land on even levels."""
    ir = np.arange(256, dtype=np.uint8).reshape(16, 16)
    vis = np.repeat(np.full((16, 16), 1, np.uint8)[..., None], 3, axis=2)
    out = create_method("average").fuse(ir, vis)[..., 0].astype(int)
    np.testing.assert_array_equal(out, (ir.astype(int) + 1 + 1) // 2)  # floor((a + 1) / 2 + 0.5)
