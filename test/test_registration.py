"""Thermal -> RGB registration: homography parsing and checks, warping against a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.io.registration import Registration

SHIFT = [[1, 0, 10], [0, 1, 5], [0, 0, 1]]  # thermal (x, y) lands on RGB (x + 10, y + 5)
PERSPECTIVE = [[1.9, 0.05, 12.0], [-0.03, 2.1, 7.5], [1e-4, 5e-5, 1.0]]


def bilinear_reference(image: np.ndarray, homography, out_shape) -> np.ndarray:
    """Independent warp: map each RGB pixel back through H^-1 and sample bilinearly (0 outside)."""
    inverse = np.linalg.inv(np.asarray(homography, float))
    ys, xs = np.mgrid[0:out_shape[0], 0:out_shape[1]]
    points = inverse @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    x, y = points[0] / points[2], points[1] / points[2]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    h, w = image.shape
    inside = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < w) & (y0 + 1 < h)
    x0, y0 = np.where(inside, x0, 0), np.where(inside, y0, 0)
    value = (image[y0, x0] * (1 - fx) * (1 - fy) + image[y0, x0 + 1] * fx * (1 - fy)
             + image[y0 + 1, x0] * (1 - fx) * fy + image[y0 + 1, x0 + 1] * fx * fy)
    return np.where(inside, value, np.nan).reshape(out_shape)


def test_flat_and_nested_homographies_are_the_same_and_scale_does_not_matter():
    flat = Registration([v for row in PERSPECTIVE for v in row])
    nested = Registration(PERSPECTIVE)
    scaled = Registration((np.array(PERSPECTIVE) * 3.0).tolist())
    np.testing.assert_allclose(flat.homography, nested.homography)
    np.testing.assert_allclose(scaled.homography, nested.homography)
    assert not nested.is_identity and Registration(np.eye(3) * 2).is_identity


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_an_integer_shift_moves_pixels_exactly_and_fills_the_rest_with_zero(dtype):
    rng = np.random.default_rng(0)
    thermal = rng.integers(1, 200, (40, 50)).astype(dtype)
    out = Registration(SHIFT).warp(thermal, (60, 70, 3))
    assert out.shape == (60, 70) and out.dtype == dtype
    np.testing.assert_array_equal(out[5:45, 10:60], thermal)
    out[5:45, 10:60] = 0
    assert not out.any()


def test_a_perspective_warp_matches_an_independent_bilinear_reference():
    ys, xs = np.mgrid[0:64, 0:80]
    thermal = (300.0 + 0.7 * xs + 0.4 * ys + 5 * np.sin(xs / 7.0)).astype(np.float32)
    registration = Registration(PERSPECTIVE, thermal_size=(80, 64), rgb_size=(150, 120))
    out = registration.warp(thermal, (120, 150))
    reference = bilinear_reference(thermal.astype(np.float64), PERSPECTIVE, (120, 150))
    inside = np.isfinite(reference)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(out[inside], reference[inside], atol=0.1)  # OpenCV rounds to 1/32 pixel
    ys, xs = np.mgrid[0:120, 0:150]
    back = np.linalg.inv(np.array(PERSPECTIVE)) @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    x, y = (back[:2] / back[2]).reshape(2, 120, 150)
    far_outside = (x < -1) | (y < -1) | (x > 80) | (y > 64)  # over a pixel away from the thermal image
    assert far_outside.mean() > 0.1 and not out[far_outside].any()


def test_identity_with_equal_sizes_returns_the_frame_itself():
    thermal = np.zeros((48, 64), np.uint16)
    assert Registration.identity(thermal_size=(64, 48), rgb_size=(64, 48)).warp(thermal, (48, 64, 3)) is thermal


def test_identity_into_a_larger_rgb_frame_places_thermal_top_left():
    thermal = np.full((4, 6), 9, np.uint8)
    out = Registration.identity().warp(thermal, (5, 8))
    assert out.shape == (5, 8) and (out[:4, :6] == 9).all() and out[4:].sum() == 0 and out[:, 6:].sum() == 0


def test_channels_are_kept():
    three = np.dstack([np.full((10, 12), v, np.uint8) for v in (10, 20, 30)])
    out = Registration(SHIFT).warp(three, (20, 30))
    assert out.shape == (20, 30, 3) and out[5, 10].tolist() == [10, 20, 30]
    assert Registration(SHIFT).warp(three[:, :, :1], (20, 30)).shape == (20, 30, 1)


def test_coverage_marks_the_rgb_pixels_the_thermal_camera_sees():
    mask = Registration(SHIFT, thermal_size=(50, 40)).coverage((60, 70))
    assert mask.dtype == bool and mask.sum() == 50 * 40 and mask[5:45, 10:60].all()
    with pytest.raises(ConfigError, match="coverage needs thermal_size"):
        Registration(SHIFT).coverage((60, 70))


def test_frames_of_another_size_than_calibrated_are_refused():
    registration = Registration(SHIFT, thermal_size=(640, 512), rgb_size=(1280, 1024))
    with pytest.raises(DataError, match=r"thermal frame is 320x256 \(WxH\) but registration was calibrated for 640x5"):
        registration.warp(np.zeros((256, 320), np.uint16), (1024, 1280, 3))
    with pytest.raises(DataError, match=r"RGB frame is 1920x1080 \(WxH\) but .* calibrated for 1280x1024"):
        registration.warp(np.zeros((512, 640), np.uint16), (1080, 1920, 3))


@pytest.mark.parametrize(
    ("homography", "pattern"),
    [
        ([1, 0, 0, 0, 1, 0, 0, 0], r"9 numbers or 3 rows of 3, got shape \(8,\)"),
        ([[1, 0], [0, 1]], r"got shape \(2, 2\)"),
        ([[1, 0, 0], [0, float("nan"), 0], [0, 0, 1]], r"non-finite"),
        ([[1, 2, 3], [2, 4, 6], [0, 0, 1]], r"singular"),
        (np.zeros((3, 3)), r"singular"),
        ([["a", 0, 0], [0, 1, 0], [0, 0, 1]], r"must be 9 numbers"),
        ([[1, 0, 0], [0, 1], [0, 0, 1]], r"must be 9 numbers"),
    ],
)
def test_bad_homographies_are_refused(homography, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Registration(homography)


def test_a_homography_that_folds_the_thermal_frame_is_refused():
    folding = [[1, 0, 0], [0, 1, 0], [-0.01, 0, 1]]  # w = 1 - 0.01 x is negative beyond x = 100
    with pytest.raises(ConfigError, match="sends part of the 640x512 thermal frame to infinity"):
        Registration(folding, thermal_size=(640, 512))
    unsized = Registration(folding)
    assert unsized.warp(np.ones((50, 80), np.uint8), (50, 80)).any()
    with pytest.raises(ConfigError, match="to infinity"):
        unsized.warp(np.ones((50, 200), np.uint8), (50, 80))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"thermal_size": (640,)}, r"thermal_size must be \[width, height\]"),
        ({"rgb_size": (640, 0)}, r"rgb_size must be \[width, height\] as two positive integers"),
        ({"rgb_size": (640.0, 480)}, r"rgb_size must be"),
        ({"rgb_size": "640x480"}, r"rgb_size must be"),
        ({"interpolation": "lanczos"}, r"interpolation must be one of \['nearest', 'linear', 'cubic'\]"),
    ],
)
def test_bad_options_are_refused(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Registration(SHIFT, **kwargs)


@pytest.mark.parametrize(
    ("thermal", "rgb_shape", "pattern"),
    [
        (np.zeros((4, 4), np.int64), (4, 4), r"cannot warp a int64 image"),
        (np.zeros((4, 4), bool), (4, 4), r"cannot warp a bool image"),
        (np.zeros((4, 4, 5), np.uint8), (4, 4), r"5 channels"),
        (np.zeros(16, np.uint8), (4, 4), r"HxW or HxWxC array, got \(16,\)"),
        ([[1]], (4, 4), r"HxW or HxWxC array, got list"),
        (np.zeros((4, 4), np.uint8), (0, 4), r"positive height and width"),
        (np.zeros((4, 4), np.uint8), "big", r"rgb_shape must be \(height, width"),
    ],
)
def test_bad_frames_are_refused(thermal, rgb_shape, pattern):
    with pytest.raises(DataError, match=pattern):
        Registration(SHIFT).warp(thermal, rgb_shape)


def test_calibration_file_round_trip(tmp_path):
    path = tmp_path / "calib.yaml"
    path.write_text("homography: [1, 0, 10, 0, 1, 5, 0, 0, 1]\nthermal_size: [50, 40]\nrgb_size: [70, 60]\n")
    registration = Registration.from_yaml(path)
    assert registration.thermal_size == (50, 40) and registration.rgb_size == (70, 60)
    np.testing.assert_allclose(registration.homography, SHIFT)
    assert registration.warp(np.ones((40, 50), np.uint8), (60, 70)).sum() == 2000
    nested = tmp_path / "nested.yaml"
    nested.write_text("homography:\n  - [1, 0, 10]\n  - [0, 1, 5]\n  - [0, 0, 1]\nthermal_size: [50, 40]\n"
                      "rgb_size: [70, 60]\n")
    np.testing.assert_allclose(Registration.from_yaml(nested).homography, SHIFT)
    with pytest.raises(DataError, match=f"calibration file {path} was calibrated for 50x40"):
        registration.warp(np.ones((41, 50), np.uint8), (60, 70))


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("homography: [1, 0, 0, 0, 1, 0, 0, 0, 1]\nthermal_size: [4, 4]\n", r"lacks \['rgb_size'\]"),
        ("homography: [1, 0, 0, 0, 1, 0, 0, 0, 1]\nthermal_size: [4, 4]\nrgb_size: [4, 4]\nrms: 0.3\n",
         r"unknown key\(s\) \['rms'\]"),
        ("homography: [1, 0, 0, 0, 1, 0, 0, 0]\nthermal_size: [4, 4]\nrgb_size: [4, 4]\n",
         r"calibration file .*calib.yaml: homography must be 9 numbers"),
        ("homography: [1, 0\n", r"not valid YAML"),
        ("- 1\n- 2\n", r"mapping at the top level"),
    ],
)
def test_calibration_file_errors_name_the_file_and_the_key(tmp_path, text, pattern):
    path = tmp_path / "calib.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=pattern):
        Registration.from_yaml(path)


def test_a_missing_calibration_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        Registration.from_yaml(tmp_path / "absent.yaml")
