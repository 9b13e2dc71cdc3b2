"""Tests of ris_fusion_ros.core.evaluation.metrics.

Three kinds of checks: values worked out by hand on tiny arrays, agreement with independent
implementations (sewar's vifp, scikit-image's SSIM, scikit-learn's MI, and plain-loop
transcriptions of the Qabf/Nabf formulas below), and a regression run on 12 MSRS dev pairs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from ris_fusion_ros.core.evaluation.metrics import (
    METRIC_NAMES,
    SSIMConvention,
    average_gradient,
    correlation_coefficient,
    entropy,
    evaluate_fusion,
    mutual_information,
    nabf,
    qabf,
    scd,
    spatial_frequency,
    ssim,
    standard_deviation,
    to_gray,
    vif,
)

LN2 = math.log(2.0)


# ------------------------------------------------------------------------------------------
# Data helpers
# ------------------------------------------------------------------------------------------

def _shared_root() -> Path:
    env = os.environ.get("RIS_FUSION_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


MSRS = _shared_root() / "data" / "msrs"


def _load_pair(image_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(IR gray, visible gray) as float64 0-255, visible via to_gray on the RGB file."""
    image = pytest.importorskip("PIL.Image", reason="Pillow is needed to read the MSRS .webp files")
    ir = np.asarray(image.open(MSRS / "ir" / f"{image_id}.webp").convert("L"), dtype=np.float64)
    vis = to_gray(np.asarray(image.open(MSRS / "vi" / f"{image_id}.webp").convert("RGB")))
    return ir, vis


def _dev_ids(n: int) -> list[str]:
    split = MSRS / "splits" / "dev.txt"
    if not split.is_file():
        pytest.skip(f"MSRS dev split not found at {split} (set RIS_FUSION_SHARED)")
    return split.read_text().split()[:n]


@pytest.fixture(scope="module")
def msrs12() -> list[tuple[np.ndarray, np.ndarray]]:
    return [_load_pair(i) for i in _dev_ids(12)]


@pytest.fixture(scope="module")
def real_pair(msrs12: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ir, vis = msrs12[0]
    return ir, vis, np.maximum(ir, vis)


def _smooth_random(shape: tuple[int, int], seed: int, sigma: float = 2.0) -> np.ndarray:
    """Integer-valued 0-255 image with spatial structure (blurred noise, stretched)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.normal(size=shape), sigma)
    x = (x - x.min()) / (x.max() - x.min()) * 255.0
    return np.round(x)


@pytest.fixture(scope="module")
def rand_triple() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = _smooth_random((64, 80), 1)
    b = _smooth_random((64, 80), 2, sigma=1.0)
    f = np.round(0.5 * np.maximum(a, b) + 0.25 * (a + b))
    return a, b, f


# ------------------------------------------------------------------------------------------
# Hand-computed values
# ------------------------------------------------------------------------------------------

def test_entropy_hand_values() -> None:
    half = np.array([[0, 0, 255, 255]] * 4, dtype=float)  # p = (1/2, 1/2) -> 1 bit
    assert entropy(half) == pytest.approx(1.0, abs=1e-12)
    assert entropy(np.full((5, 7), 42.0)) == 0.0
    four = np.array([[0, 10], [20, 30]], dtype=float)  # four equally likely levels -> 2 bits
    assert entropy(four) == pytest.approx(2.0, abs=1e-12)
    # 300 is clipped to 255 (not wrapped to 44): levels {0: 1, 255: 3} -> H(1/4, 3/4) = 0.811278 bits
    assert entropy(np.array([[0.0, 300.0], [255.0, 255.0]])) == pytest.approx(0.8112781244591328, abs=1e-12)
    # 0.4 rounds to 0, 0.6 to 1: two levels, one bit
    assert entropy(np.array([[0.4, 0.6]])) == pytest.approx(1.0, abs=1e-12)


def test_standard_deviation_hand_value() -> None:
    # mean 3, squared deviations 9, 1, 1, 9 -> population variance 5 (ddof 0, not 20/3)
    assert standard_deviation(np.array([[0.0, 2.0], [4.0, 6.0]])) == pytest.approx(math.sqrt(5.0), abs=1e-12)
    assert standard_deviation(np.full((3, 3), 7.0)) == 0.0


def test_spatial_frequency_hand_value() -> None:
    x = np.array([[0, 1, 3], [1, 1, 1], [2, 0, 0]], dtype=float)
    # horizontal differences 1, 2, 0, 0, -2, 0 -> RF^2 = 9/6; vertical 1, 0, -2, 1, -1, -1 -> CF^2 = 8/6
    # (VIFB's M*N normalisation would give sqrt(17/9) = 1.374)
    assert spatial_frequency(x) == pytest.approx(math.sqrt(17.0 / 6.0), abs=1e-12)
    assert spatial_frequency(np.full((4, 4), 9.0)) == 0.0


def test_average_gradient_hand_values() -> None:
    # one-sided at the borders, central inside: Gx = 1, 2, 3 per row, Gy = 0
    # -> sqrt(G^2 / 2) = (1, 2, 3) / sqrt 2, mean over the 6 pixels = sqrt 2
    # ((M-1)(N-1) normalisation as in Tang/VIFB would give 3 sqrt 2)
    x = np.array([[0, 1, 4], [0, 1, 4]], dtype=float)
    assert average_gradient(x) == pytest.approx(math.sqrt(2.0), abs=1e-12)
    # a plane with slopes 1 (x) and 3 (y): sqrt((1 + 9) / 2) = sqrt 5 everywhere
    plane = np.arange(9, dtype=float).reshape(3, 3) + 1.0
    assert average_gradient(plane) == pytest.approx(math.sqrt(5.0), abs=1e-12)
    assert average_gradient(np.full((4, 5), 3.0)) == 0.0


def test_average_gradient_matches_numpy_gradient(rand_triple: tuple[np.ndarray, ...]) -> None:
    f = rand_triple[2]
    gy, gx = np.gradient(f)
    assert average_gradient(f) == pytest.approx(float(np.mean(np.sqrt((gx**2 + gy**2) / 2))), rel=1e-12)


# A = [[1, 2], [3, 4]], B = [[0, 2], [2, 0]], F = [[1, 2], [4, 4]]; centred A = [[-1.5, -.5], [.5, 1.5]]
# (sum of squares 5), centred B = [[-1, 1], [1, -1]] (4), centred F = [[-1.75, -.75], [1.25, 1.25]] (6.75).
SMALL_A = np.array([[1.0, 2.0], [3.0, 4.0]])
SMALL_B = np.array([[0.0, 2.0], [2.0, 0.0]])
SMALL_F = np.array([[1.0, 2.0], [4.0, 4.0]])


def test_scd_hand_value() -> None:
    # F - B = [[1, 0], [2, 4]], centred [[-.75, -1.75], [.25, 2.25]] (8.75); with centred A: 5.5 -> 5.5/sqrt(5*8.75)
    # F - A = [[0, 0], [1, 0]], centred [[-.25, -.25], [.75, -.25]] (.75); with centred B: 1 -> 1/sqrt(4*.75)
    expected = 5.5 / math.sqrt(5 * 8.75) + 1.0 / math.sqrt(4 * 0.75)  # 0.831522 + 0.577350 = 1.408872
    assert scd(SMALL_A, SMALL_B, SMALL_F) == pytest.approx(expected, abs=1e-12)
    # F = A + B makes both difference images equal to a source: SCD = 1 + 1
    assert scd(SMALL_A, SMALL_B, SMALL_A + SMALL_B) == pytest.approx(2.0, abs=1e-12)


def test_scd_is_nan_when_fused_equals_a_source(rand_triple: tuple[np.ndarray, ...]) -> None:
    a, b, _ = rand_triple
    assert math.isnan(scd(a, b, a))
    assert math.isnan(scd(a, b, b))
    assert math.isnan(scd(a, b, a + 3.0))  # any constant difference: 0/0
    assert math.isnan(evaluate_fusion(a, b, b)["SCD"])


def test_cc_hand_value() -> None:
    # corr(A, F) = 5.5/sqrt(5*6.75) = 0.946729, corr(B, F) = 1/sqrt(4*6.75) = 0.192450
    expected = 0.5 * (5.5 / math.sqrt(5 * 6.75) + 1.0 / math.sqrt(4 * 6.75))
    assert correlation_coefficient(SMALL_A, SMALL_B, SMALL_F) == pytest.approx(expected, abs=1e-12)


def test_mi_hand_value_and_units() -> None:
    a = np.array([[0, 0, 255, 255]] * 2, dtype=float)
    b = np.full_like(a, 100.0)  # constant: MI(B, F) = 0
    # MI(A, A) = H(A) = ln 2 nats (one bit)
    assert mutual_information(a, b, a) == pytest.approx(LN2, abs=1e-12)
    res = evaluate_fusion(_smooth_random((48, 48), 3), _smooth_random((48, 48), 4), _smooth_random((48, 48), 5))
    assert res["MI_bits"] == pytest.approx(res["MI_nats"] / LN2, rel=1e-12)


# ------------------------------------------------------------------------------------------
# Known limits (research notes 1.5)
# ------------------------------------------------------------------------------------------

def test_identity_limits_on_real_image(real_pair: tuple[np.ndarray, ...]) -> None:
    a = real_pair[0]
    res = evaluate_fusion(a, a, a)
    assert res["Qabf"] == pytest.approx(0.9753, abs=1e-3)
    assert res["VIF"] == pytest.approx(2.0, abs=1e-6)
    assert res["SSIM"] == pytest.approx(2.0, abs=1e-12)
    assert res["CC"] == pytest.approx(1.0, abs=1e-12)
    assert res["Nabf"] == 0.0
    assert res["MI_nats"] == pytest.approx(2.0 * entropy(a) * LN2, rel=1e-12)
    assert res["MI_bits"] == pytest.approx(2.0 * entropy(a), rel=1e-12)
    assert math.isnan(res["SCD"])
    for window in ("uniform", "gaussian"):
        assert ssim(a, a, a, window=window, combine="mean", data_range=255.0) == pytest.approx(1.0, abs=1e-12)
        assert ssim(a, a, a, window=window, combine="sum") == pytest.approx(2.0, abs=1e-12)


def test_qabf_identity_on_random_images(rand_triple: tuple[np.ndarray, ...]) -> None:
    a = rand_triple[0]
    assert qabf(a, a, a) == pytest.approx(0.9753, abs=1e-3)
    # fused = one source, the other unrelated: far below the maximum
    assert qabf(a, _smooth_random(a.shape, 11), a) < 0.75


def test_qabf_equal_strength_quirk(rand_triple: tuple[np.ndarray, ...]) -> None:
    # G^{AF} = g_F (not 1) where g_A == g_F: with gradients below ~0.5 gray levels even a perfect
    # copy scores ~0, while the same image on a 0-255 scale scores the usual maximum.
    low = rand_triple[0] * (0.05 / 255.0)
    assert qabf(low, low, low) < 0.01
    assert qabf(low * 5100.0, low * 5100.0, low * 5100.0) == pytest.approx(0.9753, abs=1e-3)


def test_constant_images() -> None:
    c = np.full((50, 60), 80.0)
    assert standard_deviation(c) == spatial_frequency(c) == average_gradient(c) == entropy(c) == 0.0
    assert math.isnan(correlation_coefficient(c, c, c))
    # constant reference: vifp is 0/0, reported as 1.0 per source (CDDFuse convention)
    assert vif(c, c, c) == pytest.approx(2.0)


def test_nabf_is_zero_without_stronger_fused_edges(rand_triple: tuple[np.ndarray, ...]) -> None:
    a, b, _ = rand_triple
    # Sobel is linear: |grad((A + B) / 2)| <= max(|grad A|, |grad B|), so no artefact pixel
    assert nabf(a, b, (a + b) / 2.0) == pytest.approx(0.0, abs=1e-9)
    # amplified edges are artefacts
    assert nabf(a, b, np.clip(2.0 * a - 64.0, 0, 255)) > 0.01


# ------------------------------------------------------------------------------------------
# Independent implementations
# ------------------------------------------------------------------------------------------

def _sewar_vif(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    full_ref = pytest.importorskip("sewar.full_ref", reason="sewar (VIF oracle) is not installed")
    # sewar's vifp(GT, P): the source is the reference (GT), the fused image the distorted one (P)
    return float(full_ref.vifp(a, f) + full_ref.vifp(b, f))


def test_vif_matches_sewar_on_msrs(msrs12: list[tuple[np.ndarray, np.ndarray]]) -> None:
    # 160x224 crops keep sewar's direct 2-D convolutions fast
    for idx, crop, fusion in ((0, (slice(40, 200), slice(0, 224)), np.maximum),
                              (5, (slice(160, 320), slice(300, 524)), lambda x, y: np.round((x + y) / 2))):
        ir, vis = (x[crop] for x in msrs12[idx])
        fused = fusion(ir, vis)
        assert vif(ir, vis, fused) == pytest.approx(_sewar_vif(ir, vis, fused), rel=1e-6)


def test_vif_matches_sewar_on_random_images(rand_triple: tuple[np.ndarray, ...]) -> None:
    a, b, f = rand_triple
    assert vif(a, b, f) == pytest.approx(_sewar_vif(a, b, f), rel=1e-6)
    rng = np.random.default_rng(7)
    for shape in ((41, 41), (45, 57)):  # at and near the smallest size with 4 non-empty scales
        a, b = rng.uniform(0, 255, shape), rng.uniform(0, 255, shape)
        f = 0.7 * a + 0.3 * rng.uniform(0, 255, shape)
        assert vif(a, b, f) == pytest.approx(_sewar_vif(a, b, f), rel=1e-6)
    with pytest.raises(ValueError, match="41x41"):
        vif(a[:40], b[:40], f[:40])


@pytest.mark.parametrize("data_range", [2.0, 255.0])
@pytest.mark.parametrize("window", ["uniform", "gaussian"])
def test_ssim_matches_scikit_image(window: str, data_range: float, real_pair: tuple[np.ndarray, ...],
                                   rand_triple: tuple[np.ndarray, ...]) -> None:
    metrics_mod = pytest.importorskip("skimage.metrics", reason="scikit-image (SSIM oracle) is not installed")

    def sk(x: np.ndarray, y: np.ndarray) -> float:
        if window == "uniform":
            return float(metrics_mod.structural_similarity(x, y, win_size=7, data_range=data_range))
        return float(metrics_mod.structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
                                                       use_sample_covariance=False, data_range=data_range))

    for a, b, f in (real_pair, rand_triple):
        expected = sk(f, a) + sk(f, b)
        assert ssim(a, b, f, window=window, data_range=data_range) == pytest.approx(expected, rel=1e-9)
        assert ssim(a, b, f, window=window, data_range=data_range, combine="mean") == pytest.approx(
            expected / 2, rel=1e-9)


def test_ssim_default_is_cddfuse_convention(rand_triple: tuple[np.ndarray, ...]) -> None:
    a, b, f = rand_triple
    assert ssim(a, b, f) == ssim(a, b, f, window="uniform", win_size=7, combine="sum", data_range=2.0)
    assert ssim(a, b, f) != pytest.approx(ssim(a, b, f, data_range=255.0), rel=1e-3)


def test_mi_matches_scikit_learn(real_pair: tuple[np.ndarray, ...], rand_triple: tuple[np.ndarray, ...]) -> None:
    skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn (MI oracle) is not installed")
    for a, b, f in (real_pair, rand_triple):
        qa, qb, qf = (x.astype(np.uint8).ravel() for x in (a, b, f))
        expected = skm.mutual_info_score(qa, qf) + skm.mutual_info_score(qb, qf)
        assert mutual_information(a, b, f) == pytest.approx(expected, rel=1e-10)


# Plain-loop transcriptions of the Qabf / Nabf formulas (research notes 1.2), written for
# clarity rather than speed, on tiny images; scipy's convolve2d / np.pad do the filtering.

def _loop_qabf(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    from scipy.signal import convolve2d

    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    ky = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)

    def edges(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sx = convolve2d(x, kx, mode="same")  # zero padding
        sy = convolve2d(x, ky, mode="same")
        g = np.sqrt(sx**2 + sy**2)
        ang = np.empty_like(x)
        for i, j in np.ndindex(x.shape):
            ang[i, j] = math.pi / 2 if sx[i, j] == 0 else math.atan(sy[i, j] / sx[i, j])
        return g, ang

    ga, aa = edges(a)
    gb, ab = edges(b)
    gf, af = edges(f)

    def q(gs: float, als: float, gfv: float, alf: float) -> float:
        if gs > gfv:
            rel = gfv / gs
        elif gs < gfv:
            rel = gs / gfv
        else:
            rel = gfv
        orient = 1 - abs(als - alf) / (math.pi / 2)
        return 0.9994 / (1 + math.exp(-15 * (rel - 0.5))) * 0.9879 / (1 + math.exp(-22 * (orient - 0.8)))

    num = den = 0.0
    for i, j in np.ndindex(a.shape):
        num += q(ga[i, j], aa[i, j], gf[i, j], af[i, j]) * ga[i, j]
        num += q(gb[i, j], ab[i, j], gf[i, j], af[i, j]) * gb[i, j]
        den += ga[i, j] + gb[i, j]
    return num / den


def _loop_nabf(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    vt = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float) / 8
    ht = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float) / 8

    def edges(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ext = np.pad(x, 1, mode="reflect")  # mirror without repeating the edge pixel
        g = np.empty_like(x)
        ang = np.empty_like(x)
        for i, j in np.ndindex(x.shape):
            win = ext[i:i + 3, j:j + 3]
            gv, gh = float(np.sum(win * vt)), float(np.sum(win * ht))
            g[i, j] = math.sqrt(gv * gv + gh * gh)
            if gv == 0 and gh == 0:
                ang[i, j] = 0.0
            elif gh == 0:
                ang[i, j] = math.copysign(math.pi / 2, gv)
            else:
                ang[i, j] = math.atan(gv / gh)
        return g, ang

    ga, aa = edges(a)
    gb, ab = edges(b)
    gf, af = edges(f)

    def q(gs: float, als: float, gfv: float, alf: float) -> float:
        rel = 0.0 if gs == 0 or gfv == 0 else min(gs, gfv) / max(gs, gfv)
        orient = abs(abs(als - alf) - math.pi / 2) * 2 / math.pi
        return math.sqrt(0.9999 / (1 + math.exp(-19 * (rel - 0.5))) * 0.9995 / (1 + math.exp(-22 * (orient - 0.5))))

    def w(g: float) -> float:
        return g**1.5 if g >= 2 else 0.001

    num = den = 0.0
    for i, j in np.ndindex(a.shape):
        den += w(ga[i, j]) + w(gb[i, j])
        if gf[i, j] > ga[i, j] and gf[i, j] > gb[i, j]:
            num += (1 - q(ga[i, j], aa[i, j], gf[i, j], af[i, j])) * w(ga[i, j])
            num += (1 - q(gb[i, j], ab[i, j], gf[i, j], af[i, j])) * w(gb[i, j])
    return num / den


@pytest.mark.parametrize(("seed", "scale"), [(0, 1.0), (1, 1.0), (2, 2.0**-8)])
def test_qabf_nabf_match_loop_transcription(seed: int, scale: float) -> None:
    a = _smooth_random((13, 17), 100 + seed, sigma=1.0)
    b = _smooth_random((13, 17), 200 + seed, sigma=1.0)
    a[:4, :5] = 30.0  # flat patches exercise the g = 0 / Sx = 0 branches
    b[-3:, -6:] = 200.0
    f = np.clip(np.round(0.6 * np.maximum(a, b) + 0.6 * (a - b)), 0, 255)  # has artefact pixels
    f[5:9, 6:10] = a[5:9, 6:10]  # equal strengths inside: the g_A == g_F branch
    # 2^-8 keeps the arithmetic exact while making the strengths fractional (where that branch matters)
    a, b, f = a * scale, b * scale, f * scale
    assert qabf(a, b, f) == pytest.approx(_loop_qabf(a, b, f), rel=1e-12)
    expected_nabf = _loop_nabf(a, b, f)
    assert expected_nabf > 0
    assert nabf(a, b, f) == pytest.approx(expected_nabf, rel=1e-12)


# ------------------------------------------------------------------------------------------
# API, conventions and input validation
# ------------------------------------------------------------------------------------------

def test_evaluate_fusion_keys_and_consistency(rand_triple: tuple[np.ndarray, ...]) -> None:
    a, b, f = rand_triple
    res = evaluate_fusion(a.astype(np.uint8), b.astype(np.uint8), f.astype(np.uint8))
    assert tuple(res) == METRIC_NAMES
    assert all(isinstance(v, float) for v in res.values())
    single = {
        "EN": entropy(f), "SD": standard_deviation(f), "SF": spatial_frequency(f), "AG": average_gradient(f),
        "MI_nats": mutual_information(a, b, f), "SCD": scd(a, b, f), "CC": correlation_coefficient(a, b, f),
        "VIF": vif(a, b, f), "Qabf": qabf(a, b, f), "Nabf": nabf(a, b, f), "SSIM": ssim(a, b, f),
    }
    for name, value in single.items():
        assert res[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    conv = SSIMConvention(window="gaussian", combine="mean", data_range=255.0)
    other = evaluate_fusion(a, b, f, ssim_convention=conv)
    assert other["SSIM"] == pytest.approx(ssim(a, b, f, window="gaussian", combine="mean", data_range=255.0))
    assert {k: v for k, v in other.items() if k != "SSIM"} == {k: v for k, v in res.items() if k != "SSIM"}


def test_inputs_are_not_modified(rand_triple: tuple[np.ndarray, ...]) -> None:
    a, b, f = (x.copy() for x in rand_triple)
    evaluate_fusion(a, b, f)
    for x, ref in zip((a, b, f), rand_triple, strict=True):
        np.testing.assert_array_equal(x, ref)


def test_ssim_convention_describe_and_validation() -> None:
    assert SSIMConvention().describe() == "7x7 uniform window, sum over sources, data_range 2"
    assert SSIMConvention("gaussian", combine="mean", data_range=255).describe() == (
        "11x11 Gaussian window (sigma 1.5), mean over sources, data_range 255")
    for kwargs, field in (({"window": "box"}, "window"), ({"win_size": 8}, "win_size"),
                          ({"win_size": 1}, "win_size"), ({"combine": "max"}, "combine"),
                          ({"data_range": 0.0}, "data_range"), ({"data_range": float("nan")}, "data_range")):
        with pytest.raises(ValueError, match=field):
            SSIMConvention(**kwargs)
    with pytest.raises(ValueError, match="combine"):
        ssim(SMALL_A, SMALL_A, SMALL_A, combine="median")


def test_input_validation() -> None:
    a = np.zeros((48, 64))
    with pytest.raises(ValueError, match=r"\(48, 64\).*\(48, 63\)"):
        evaluate_fusion(a, a, np.zeros((48, 63)))
    bad = a.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="contains NaN or infinite values"):
        evaluate_fusion(a, bad, a)
    bad[3, 4] = np.inf
    with pytest.raises(ValueError, match="contains NaN or infinite values"):
        qabf(a, a, bad)
    with pytest.raises(ValueError, match="2-D"):
        evaluate_fusion(a, a, np.zeros((48, 64, 3)))
    with pytest.raises(ValueError, match="41x41"):
        evaluate_fusion(np.zeros((40, 64)), np.zeros((40, 64)), np.zeros((40, 64)))
    with pytest.raises(ValueError, match="same shape"):
        scd(SMALL_A, SMALL_A, np.zeros((2, 3)))
    with pytest.raises(TypeError):
        evaluate_fusion(a, a, a, ssim_convention="uniform")  # type: ignore[arg-type]


def test_to_gray() -> None:
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)   # red -> round(0.299 * 255) = 76 (BGR order would give 29)
    rgb[0, 1] = (0, 0, 255)   # blue -> 29
    rgb[1, 2] = (10, 200, 30)  # 2.99 + 117.4 + 3.42 = 123.81 -> 124
    gray = to_gray(rgb)
    assert gray.dtype == np.float64 and gray.shape == (2, 3)
    assert gray[0, 0] == 76.0 and gray[0, 1] == 29.0 and gray[1, 2] == 124.0 and gray[1, 0] == 0.0
    rgba = np.concatenate([rgb, np.full((2, 3, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(to_gray(rgba), gray)
    plain = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    out = to_gray(plain)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, plain)
    for shape in ((2, 3, 2), (2, 3, 1), (4,), (2, 2, 3, 1)):
        with pytest.raises(ValueError, match="to_gray"):
            to_gray(np.zeros(shape))


# ------------------------------------------------------------------------------------------
# Regression on real data: 12 MSRS dev pairs, avg and max fusion
# ------------------------------------------------------------------------------------------

def test_msrs_subset_baselines(msrs12: list[tuple[np.ndarray, np.ndarray]]) -> None:
    # avg uses np.round (half to even): odd sums all land on even gray levels, so the avg
    # histogram is comb-shaped and EN is ~3 % below the reference table, whose fused images
    # went through a YCbCr -> RGB -> gray round trip; the other metrics agree to < 0.3 %.
    rows: dict[str, list[list[float]]] = {"avg": [], "max": []}
    for ir, vis in msrs12:
        for name, fused in (("avg", np.round((ir + vis) / 2)), ("max", np.maximum(ir, vis))):
            res = evaluate_fusion(ir, vis, fused)
            rows[name].append([res[k] for k in METRIC_NAMES])
    mean = {name: dict(zip(METRIC_NAMES, np.mean(np.array(r), axis=0), strict=True)) for name, r in rows.items()}
    print("\nMSRS dev, first 12 pairs (MI in nats and bits; VIF and SSIM summed over the sources):")
    print("method " + " ".join(f"{k:>8}" for k in METRIC_NAMES))
    for name, m in mean.items():
        print(f"{name:6} " + " ".join(f"{m[k]:8.4f}" for k in METRIC_NAMES))
    avg, mx = mean["avg"], mean["max"]
    # Orderings with large margins in the 241-pair reference (msrs-reference-metrics.md)
    for key in ("MI_nats", "VIF", "Qabf", "SD", "SF", "AG"):
        assert mx[key] > avg[key], key
    # Plausible ranges
    for m in (avg, mx):
        assert 4.0 < m["EN"] < 8.0
        assert 0.0 < m["MI_nats"] < 2 * 8 * LN2
        assert 0.2 < m["VIF"] < 2.0
        assert 0.2 < m["Qabf"] < 0.9753
        assert 0.0 <= m["Nabf"] < 0.01
        assert 0.3 < m["CC"] < 1.0
        assert 0.5 < m["SSIM"] < 2.0
        assert 0.5 < m["SCD"] < 2.0
