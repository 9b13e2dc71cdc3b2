"""Quality metrics for infrared-visible image fusion (EN, SD, SF, AG, MI, SCD, CC, VIF, Qabf, Nabf, SSIM).

Written from the published formulas. Conventions follow the evaluator most IR-VIS papers quote,
CDDFuse's ``utils/Evaluator.py`` (see ``shared/docs/research-notes.md`` section 1), unless a docstring
says otherwise, so that numbers can be set next to CDDFuse-style tables:

* inputs are single-channel gray images, float64 on a 0-255 scale, at source resolution;
  ``a`` is the infrared source, ``b`` the visible source, ``f`` the fused image;
* "sum" metrics (MI, SCD, VIF, and SSIM by default) add the A->F and the B->F terms, so their
  range is twice the single-pair range (e.g. VIF(A, A, A) = 2);
* histogram metrics (EN, MI) quantise with ``uint8(round(clip(x, 0, 255)))``;
* MI is given in nats (``MI_nats``, what CDDFuse prints) and in bits (``MI_bits``, the unit of
  the Tang MATLAB toolbox).

Only NumPy and OpenCV are used here; scikit-image, scikit-learn and sewar are the independent
oracles of the tests.

Implementation note: fresh large arrays are expensive (first-touch page faults cost more than
the arithmetic on small VMs), so the heavy kernels write into work arrays from a per-call
:class:`_Scratch` pool with ``out=`` arguments. Nothing is kept between calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from ..color import to_gray  # re-exported: the evaluator's gray conversion lives in one place

__all__ = [
    "METRIC_NAMES",
    "SSIMConvention",
    "average_gradient",
    "correlation_coefficient",
    "entropy",
    "evaluate_fusion",
    "mutual_information",
    "nabf",
    "qabf",
    "scd",
    "spatial_frequency",
    "ssim",
    "standard_deviation",
    "to_gray",
    "vif",
]

FloatImage = npt.NDArray[np.float64]
ByteImage = npt.NDArray[np.uint8]

METRIC_NAMES: tuple[str, ...] = (
    "EN", "SD", "SF", "AG", "MI_nats", "MI_bits", "SCD", "CC", "VIF", "Qabf", "Nabf", "SSIM",
)

#: Smallest height and width for which the 4-scale VIF still has a non-empty 'valid' region.
VIF_MIN_SIZE = 41

_LN2 = math.log(2.0)


# --------------------------------------------------------------------------------------------
# Input handling and work arrays
# --------------------------------------------------------------------------------------------

class _Scratch:
    """Pool of reusable work arrays, keyed by shape and dtype, for one evaluation."""

    def __init__(self) -> None:
        self._free: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}

    def take(self, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """An uninitialised array of that shape and dtype (reused when one was given back)."""
        stack = self._free.get((tuple(shape), np.dtype(dtype).str))
        return stack.pop() if stack else np.empty(shape, dtype)

    def give(self, *arrays: np.ndarray) -> None:
        """Return arrays to the pool; the caller must not use them afterwards."""
        for arr in arrays:
            self._free.setdefault((arr.shape, arr.dtype.str), []).append(arr)


def _as_image(x: npt.ArrayLike, name: str) -> FloatImage:
    """Return ``x`` as a finite, C-contiguous 2-D float64 array or raise ValueError naming ``name``."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D single-channel image, got an array of shape {arr.shape}; "
            "convert colour images with to_gray() first"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _as_triple(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike,
               names: tuple[str, str, str] = ("a", "b", "f")) -> tuple[FloatImage, FloatImage, FloatImage]:
    """Validate three images (2-D, finite, equal shapes) and return them as float64."""
    a_ = _as_image(a, names[0])
    b_ = _as_image(b, names[1])
    f_ = _as_image(f, names[2])
    if not (a_.shape == b_.shape == f_.shape):
        raise ValueError(
            f"images must have the same shape, got {names[0]} {a_.shape}, {names[1]} {b_.shape}, "
            f"{names[2]} {f_.shape}"
        )
    return a_, b_, f_


def _check_min_size(shape: tuple[int, ...], minimum: int, what: str) -> None:
    if min(shape) < minimum:
        raise ValueError(f"{what} needs images of at least {minimum}x{minimum} pixels, got shape {shape}")


def _quantise(x: FloatImage) -> ByteImage:
    """``uint8(round(clip(x, 0, 255)))``: clipping first avoids the uint8 wrap-around."""
    return np.rint(np.clip(x, 0.0, 255.0)).astype(np.uint8)




# --------------------------------------------------------------------------------------------
# Single-image statistics: EN, SD, SF, AG
# --------------------------------------------------------------------------------------------

def _entropy_from_counts(counts: npt.NDArray[np.integer], log: float) -> float:
    """Shannon entropy of a histogram in units of ``log`` (ln 2 -> bits, 1 -> nats)."""
    c = counts[counts > 0].astype(np.float64)
    n = float(c.sum())
    h = math.log(n) - float(np.dot(c, np.log(c))) / n
    return max(h, 0.0) / log


def entropy(f: npt.ArrayLike) -> float:
    """EN = -sum_g p_g log2 p_g of the 256-bin histogram, in bits; 0.0 for a constant image.

    Computed on ``uint8(round(clip(F, 0, 255)))`` as CDDFuse does (Roberts et al., "Assessment
    of image fusion procedures using entropy, image quality, and multispectral classification",
    J. Appl. Remote Sens. 2, 2008).
    """
    q = _quantise(_as_image(f, "f"))
    return _entropy_from_counts(np.bincount(q.ravel(), minlength=256), _LN2)


def standard_deviation(f: npt.ArrayLike) -> float:
    """SD: population standard deviation (ddof = 0) of the gray values, as in every evaluator."""
    return float(np.std(_as_image(f, "f")))


def spatial_frequency(f: npt.ArrayLike) -> float:
    """SF = sqrt(RF^2 + CF^2) (Eskicioglu & Fisher, IEEE Trans. Commun. 43(12), 1995).

    CDDFuse/Tang convention: RF^2 is the mean over the M x (N-1) horizontal squared differences
    and CF^2 over the (M-1) x N vertical ones (VIFB divides both sums by M*N instead).
    Needs at least 2 rows and 2 columns.
    """
    x = _as_image(f, "f")
    _check_min_size(x.shape, 2, "spatial_frequency")
    return _spatial_frequency(x)


def _spatial_frequency(x: FloatImage) -> float:
    dh = np.diff(x, axis=1).ravel()
    rf2 = float(np.dot(dh, dh)) / dh.size
    dv = np.diff(x, axis=0).ravel()
    cf2 = float(np.dot(dv, dv)) / dv.size
    return math.sqrt(rf2 + cf2)


def average_gradient(f: npt.ArrayLike) -> float:
    """AG = (1/MN) sum sqrt((Gx^2 + Gy^2) / 2).

    Gradients as ``np.gradient`` / MATLAB ``gradient``: central differences inside, one-sided at
    the borders. Normalised by M*N as CDDFuse does (Tang/VIFB divide by (M-1)(N-1), ~0.4 %
    larger on 640x480). Needs at least 2 rows and 2 columns.
    """
    x = _as_image(f, "f")
    _check_min_size(x.shape, 2, "average_gradient")
    return _average_gradient(x, _Scratch())


def _gradient_along(x: FloatImage, axis: int, out: FloatImage) -> FloatImage:
    """``np.gradient(x, axis=axis)`` written into ``out``."""
    xs = x if axis == 0 else x.T
    o = out if axis == 0 else out.T
    np.subtract(xs[2:], xs[:-2], out=o[1:-1])
    o[1:-1] *= 0.5
    np.subtract(xs[1], xs[0], out=o[0])
    np.subtract(xs[-1], xs[-2], out=o[-1])
    return out


def _average_gradient(x: FloatImage, sc: _Scratch) -> float:
    gy = _gradient_along(x, 0, sc.take(x.shape))
    gx = _gradient_along(x, 1, sc.take(x.shape))
    gy *= gy
    gx *= gx
    gx += gy
    gx *= 0.5
    value = float(np.mean(np.sqrt(gx, out=gx)))
    sc.give(gx, gy)
    return value


# --------------------------------------------------------------------------------------------
# Mutual information
# --------------------------------------------------------------------------------------------

def _mi_pair_nats(qx: ByteImage, qf: ByteImage, h_x: float, h_f: float) -> float:
    """MI(X, F) = H(X) + H(F) - H(X, F) in nats, from the joint 256x256 histogram."""
    joint = np.bincount(qx.ravel().astype(np.intp) * 256 + qf.ravel(), minlength=256 * 256)
    return max(h_x + h_f - _entropy_from_counts(joint, 1.0), 0.0)


def _mutual_information_q(qa: ByteImage, qb: ByteImage, qf: ByteImage, h_f: float | None = None) -> float:
    def h(q: ByteImage) -> float:
        return _entropy_from_counts(np.bincount(q.ravel(), minlength=256), 1.0)

    hf = h(qf) if h_f is None else h_f
    return _mi_pair_nats(qa, qf, h(qa), hf) + _mi_pair_nats(qb, qf, h(qb), hf)


def mutual_information(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike) -> float:
    """MI = MI(A, F) + MI(B, F) in **nats** (Qu, Zhang & Yan, Electron. Lett. 38(7), 2002).

    The images are quantised to ``uint8(round(clip(x, 0, 255)))`` and MI(X, F) is taken from the
    joint 256x256 histogram with natural logarithms: the value of CDDFuse's
    ``sklearn.metrics.mutual_info_score`` on rounded images. Divide by ln 2 for bits (the Tang
    toolbox unit; its joint histogram also merges gray levels 254 and 255).
    """
    a_, b_, f_ = _as_triple(a, b, f)
    return _mutual_information_q(_quantise(a_), _quantise(b_), _quantise(f_))


# --------------------------------------------------------------------------------------------
# Correlation metrics: SCD, CC
# --------------------------------------------------------------------------------------------

def _pearson(x: FloatImage, y: FloatImage, sc: _Scratch) -> float:
    """Pearson correlation over all pixels; NaN when either image is constant (0/0)."""
    xc = np.subtract(x, x.mean(), out=sc.take(x.shape)).ravel()
    yc = np.subtract(y, y.mean(), out=sc.take(y.shape)).ravel()
    sxx = float(np.dot(xc, xc))
    syy = float(np.dot(yc, yc))
    sxy = float(np.dot(xc, yc))
    sc.give(xc.reshape(x.shape), yc.reshape(y.shape))
    if sxx == 0.0 or syy == 0.0:
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def _scd(a: FloatImage, b: FloatImage, f: FloatImage, sc: _Scratch) -> float:
    d = sc.take(f.shape)
    corr_b = _pearson(np.subtract(f, b, out=d), a, sc)
    corr_a = _pearson(np.subtract(f, a, out=d), b, sc)
    sc.give(d)
    return corr_b + corr_a


def scd(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike) -> float:
    """SCD = corr(F - B, A) + corr(F - A, B) (Aslantas & Bendes, AEU 69(12), 2015).

    Pearson correlations over all pixels. Returns NaN when a difference image is constant, e.g.
    when F equals one of the sources (the correlation is 0/0), as CDDFuse and the Tang toolbox do.
    """
    a_, b_, f_ = _as_triple(a, b, f)
    return _scd(a_, b_, f_, _Scratch())


def correlation_coefficient(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike) -> float:
    """CC = (corr(A, F) + corr(B, F)) / 2, Pearson over all pixels; CC(A, A, A) = 1.

    NaN when F or a source is constant.
    """
    a_, b_, f_ = _as_triple(a, b, f)
    sc = _Scratch()
    return 0.5 * (_pearson(a_, f_, sc) + _pearson(b_, f_, sc))


# --------------------------------------------------------------------------------------------
# VIF (pixel-domain, multi-scale)
# --------------------------------------------------------------------------------------------

def _gaussian_1d(n: int, sigma: float) -> FloatImage:
    """Normalised 1-D Gaussian of n taps; its outer product is MATLAB ``fspecial('gaussian', n, sigma)``.

    (fspecial's cut of values below eps * max never triggers for the sizes used here.)
    """
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_full(x: FloatImage, k: FloatImage, out: FloatImage | None = None) -> FloatImage:
    """Correlation with the separable window ``outer(k, k)``, same size as ``x``.

    The Gaussian windows used here are outer products of 1-D kernels, so two 1-D passes equal
    the reference code's 2-D ``convolve2d`` at a fraction of the cost. Only the 'valid' part
    (see ``_valid``) is used by callers; the border padding never reaches a result.
    """
    return cv2.sepFilter2D(x, cv2.CV_64F, k, k, dst=out, borderType=cv2.BORDER_REFLECT)


def _valid(shape: tuple[int, ...], r: int) -> tuple[slice, slice]:
    """The 'valid' region of a same-size filter output for a window of radius r."""
    return slice(r, shape[0] - r), slice(r, shape[1] - r)


def _vifp_multi(refs: Sequence[FloatImage], dist: FloatImage, sc: _Scratch, sigma_nsq: float = 2.0) -> list[float]:
    """vifp(ref -> dist) for each reference, sharing the statistics of the distorted image.

    The clamps of LIVE ``vifp_mscale.m`` (and of its CDDFuse and sewar ports) in closed form:
    variances clipped at 0; g = cov / (var_ref + eps), then g = 0 where var_ref < eps,
    var_dist < eps or g < 0; sv^2 = max(var_dist - g cov, eps); var_ref = 0 where < eps.
    Natural logs replace log10 (the ratio is the same).
    """
    eps = 1e-10
    num = [0.0] * len(refs)
    den = [0.0] * len(refs)
    imgs = [*refs, dist]  # the last one is the distorted image
    owned = False  # the scale-1 images belong to the caller
    for scale in range(1, 5):
        n = 2 ** (5 - scale) + 1
        r = (n - 1) // 2
        k = _gaussian_1d(n, n / 5.0)
        if scale > 1:  # low-pass ('valid') and keep every second row and column
            shape = imgs[0].shape
            small = ((shape[0] - 2 * r + 1) // 2, (shape[1] - 2 * r + 1) // 2)
            lowpass = sc.take(shape)
            nxt = []
            for x in imgs:
                _filter_full(x, k, out=lowpass)
                y = sc.take(small)
                np.copyto(y, lowpass[r:shape[0] - r:2, r:shape[1] - r:2])
                nxt.append(y)
            sc.give(lowpass)
            if owned:
                sc.give(*imgs)
            imgs, owned = nxt, True
        *cur_refs, d = imgs
        shape = d.shape
        valid = _valid(shape, r)
        mu_d, var_d, tmp, mu_r, var_r, cov = (sc.take(shape) for _ in range(6))
        small_d, small_r, zero_g = (sc.take(shape, np.bool_) for _ in range(3))
        _filter_full(d, k, out=mu_d)
        _filter_full(np.multiply(d, d, out=tmp), k, out=var_d)
        var_d -= np.multiply(mu_d, mu_d, out=tmp)
        np.maximum(var_d, 0.0, out=var_d)
        np.less(var_d, eps, out=small_d)
        for i, ref in enumerate(cur_refs):
            _filter_full(ref, k, out=mu_r)
            _filter_full(np.multiply(ref, ref, out=tmp), k, out=var_r)
            var_r -= np.multiply(mu_r, mu_r, out=tmp)
            np.maximum(var_r, 0.0, out=var_r)
            _filter_full(np.multiply(ref, d, out=tmp), k, out=cov)
            cov -= np.multiply(mu_r, mu_d, out=tmp)

            g = np.add(var_r, eps, out=mu_r)  # mu_r is no longer needed
            np.divide(cov, g, out=g)
            np.less(var_r, eps, out=small_r)
            np.logical_or(small_r, small_d, out=zero_g)
            zero_g |= g < 0
            np.copyto(g, 0.0, where=zero_g)
            np.copyto(var_r, 0.0, where=small_r)
            sv_sq = np.multiply(g, cov, out=tmp)
            np.subtract(var_d, sv_sq, out=sv_sq)
            np.maximum(sv_sq, eps, out=sv_sq)
            sv_sq += sigma_nsq

            g *= g
            g *= var_r
            g /= sv_sq
            g += 1.0
            num[i] += float(np.sum(np.log(g, out=g)[valid]))
            var_r *= 1.0 / sigma_nsq
            var_r += 1.0
            den[i] += float(np.sum(np.log(var_r, out=var_r)[valid]))
        sc.give(mu_d, var_d, tmp, mu_r, var_r, cov, small_d, small_r, zero_g)
    if owned:
        sc.give(*imgs)
    # 0/0 happens only for a constant reference; CDDFuse's compare_viff returns 1.0 there.
    return [nu / de if de > 0.0 else 1.0 for nu, de in zip(num, den, strict=True)]


def vif(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike) -> float:
    """VIF = vifp(A -> F) + vifp(B -> F): pixel-domain multi-scale VIF summed over the sources.

    vifp is Sheikh & Bovik's pixel-domain visual information fidelity ("Image information and
    visual quality", IEEE TIP 15(2), 2006; LIVE ``vifp_mscale.m``): 4 scales, Gaussian window of
    N = 2^(5-s)+1 taps with sigma = N/5, 'valid' filtering, low-pass + decimation by 2 from
    scale 2 on, sigma_n^2 = 2 (meant for 0-255 data), eps = 1e-10 clamps. The source is the
    reference and F the distorted image, i.e. ``sewar.full_ref.vifp(source, fused)``; CDDFuse's
    ``VIFF`` and the Tang toolbox compute the same sum. Not Han et al.'s 2013 VIFF. A constant
    source contributes 1.0 (CDDFuse's answer to its 0/0 case; sewar returns NaN there).
    Needs images of at least 41x41.
    """
    a_, b_, f_ = _as_triple(a, b, f)
    _check_min_size(f_.shape, VIF_MIN_SIZE, "vif")
    return float(sum(_vifp_multi((a_, b_), f_, _Scratch())))


# --------------------------------------------------------------------------------------------
# Qabf (Xydeas-Petrovic) and Nabf (Shreyamsha Kumar)
# --------------------------------------------------------------------------------------------

# Correlation kernels equal to *convolving* with [-1 0 1; -2 0 2; -1 0 1] (x) and
# [1 2 1; 0 0 0; -1 -2 -1] (y), which is what the reference code's convolve2d does.
_QABF_KX = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
_QABF_KY = np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])


def _qabf_edges(x: FloatImage, sc: _Scratch) -> tuple[FloatImage, FloatImage]:
    """Sobel strength g and orientation alpha = atan(Sy/Sx) (pi/2 where Sx = 0); zero padding."""
    sx = cv2.filter2D(x, cv2.CV_64F, _QABF_KX, dst=sc.take(x.shape), borderType=cv2.BORDER_CONSTANT)
    sy = cv2.filter2D(x, cv2.CV_64F, _QABF_KY, dst=sc.take(x.shape), borderType=cv2.BORDER_CONSTANT)
    g = np.multiply(sx, sx, out=sc.take(x.shape))
    g += np.multiply(sy, sy, out=(tmp := sc.take(x.shape)))
    np.sqrt(g, out=g)  # sqrt(Sx^2 + Sy^2) as in the reference code
    flat_x = np.equal(sx, 0.0, out=sc.take(x.shape, np.bool_))
    np.copyto(sx, 1.0, where=flat_x)
    alpha = np.arctan(np.divide(sy, sx, out=sy), out=sy)
    np.copyto(alpha, math.pi / 2, where=flat_x)
    sc.give(sx, tmp, flat_x)
    return g, alpha


def _qabf_weighted_sum(g_s: FloatImage, a_s: FloatImage, g_f: FloatImage, a_f: FloatImage, sc: _Scratch) -> float:
    """sum(Q^{SF} g_S), Q^{SF} = Q_g Q_alpha with the community constants.

    Q_g = Gamma_g / (1 + exp(k_g (G - D_g))) and Q_alpha = Gamma_a / (1 + exp(k_a (A - D_a)))
    with A = 1 - |alpha_S - alpha_F| / (pi/2).
    """
    gamma_g, k_g, d_g = 0.9994, -15.0, 0.5
    gamma_a, k_a, d_a = 0.9879, -22.0, 0.8
    lo = np.minimum(g_s, g_f, out=sc.take(g_s.shape))
    hi = np.maximum(g_s, g_f, out=sc.take(g_s.shape))
    equal = np.equal(g_s, g_f, out=sc.take(g_s.shape, np.bool_))
    # G = min/max where the strengths differ; the MATLAB original (and every port) uses g_F
    # itself where they are equal: 0 on flat areas, the raw magnitude on equal edges.
    np.copyto(hi, 1.0, where=equal)
    np.copyto(lo, g_f, where=equal)
    den = np.divide(lo, hi, out=lo)
    den -= d_g
    den *= k_g
    np.exp(den, out=den)
    den += 1.0
    t = np.subtract(a_s, a_f, out=hi)
    np.abs(t, out=t)
    t *= -k_a / (math.pi / 2)
    t += k_a * (1.0 - d_a)
    np.exp(t, out=t)
    t += 1.0
    den *= t  # (1 + e^{k_g(G - D_g)}) (1 + e^{k_a(A - D_a)})
    total = gamma_g * gamma_a * float(np.sum(np.divide(g_s, den, out=den)))
    sc.give(lo, hi, equal)
    return total


def _qabf(a: FloatImage, b: FloatImage, f: FloatImage, sc: _Scratch) -> float:
    g_f, a_f = _qabf_edges(f, sc)
    num = 0.0
    den = 0.0
    for src in (a, b):
        g_s, a_s = _qabf_edges(src, sc)
        num += _qabf_weighted_sum(g_s, a_s, g_f, a_f, sc)
        den += float(np.sum(g_s))
        sc.give(g_s, a_s)
    sc.give(g_f, a_f)
    return num / den if den > 0.0 else math.nan


def qabf(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike) -> float:
    """Qabf, Xydeas & Petrovic's edge-preservation measure ("Objective image fusion performance measure",
    Electron. Lett. 36(4), 2000).

    As in CDDFuse, Tang ``analysis_Qabf.m`` and VIFB: 3x3 Sobel by 'same' convolution with zero
    padding; strength g = sqrt(Sx^2 + Sy^2); orientation alpha = atan(Sy/Sx) (not atan2; pi/2
    where Sx = 0); relative strength min/max, except the g_A == g_F quirk (value g_F); relative
    orientation 1 - |alpha_S - alpha_F| / (pi/2); Gamma_g = 0.9994, k_g = -15, D_g = 0.5,
    Gamma_a = 0.9879, k_a = -22, D_a = 0.8; weights g^L with L = 1:
    Qabf = sum(Q^{AF} g_A + Q^{BF} g_B) / sum(g_A + g_B). Its practical maximum is
    Qabf(A, A, A) ~= 0.9753, not 1. NaN when both sources are flat.
    """
    a_, b_, f_ = _as_triple(a, b, f)
    return _qabf(a_, b_, f_, _Scratch())


# Kumar's sobel_fn: a MATLAB loop, i.e. correlation with these kernels, divided by 8.
_NABF_KV = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
_NABF_KH = np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]) / 8.0


def _nabf_sobel(x: FloatImage, sc: _Scratch) -> tuple[FloatImage, FloatImage]:
    """Kumar's ``sobel_fn`` (gv, gh) on the image mirror-extended by one pixel.

    ``per_extn_im_fn`` copies row 2 of the padded image into row 1 (and likewise at the other
    sides): a mirror that does not repeat the edge pixel, i.e. OpenCV's BORDER_REFLECT_101.
    """
    gv = cv2.filter2D(x, cv2.CV_64F, _NABF_KV, dst=sc.take(x.shape), borderType=cv2.BORDER_REFLECT_101)
    gh = cv2.filter2D(x, cv2.CV_64F, _NABF_KH, dst=sc.take(x.shape), borderType=cv2.BORDER_REFLECT_101)
    return gv, gh


def _nabf_strength(x: FloatImage, sc: _Scratch) -> FloatImage:
    gv, gh = _nabf_sobel(x, sc)
    gv *= gv
    gh *= gh
    gv += gh
    sc.give(gh)
    return np.sqrt(gv, out=gv)


def _nabf_alpha(gv: FloatImage, gh: FloatImage) -> FloatImage:
    """atan(gv/gh), 0 where both are 0 (+-pi/2 where only gh is 0; the measure is pi-periodic)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.arctan(gv / gh)
    alpha[(gv == 0) & (gh == 0)] = 0.0
    return alpha


def _nabf_q(g_s: FloatImage, a_s: FloatImage, g_f: FloatImage, a_f: FloatImage) -> FloatImage:
    """Q^{SF} = sqrt(Q_g Q_alpha) with the parameters set in Kumar's code."""
    lo = np.minimum(g_s, g_f)
    hi = np.maximum(g_s, g_f)
    rel_g = np.divide(lo, hi, out=np.zeros_like(lo), where=lo > 0)  # 0 if either strength is 0
    rel_a = np.abs(np.abs(a_s - a_f) - math.pi / 2) * (2.0 / math.pi)
    q_g = 0.9999 / (1.0 + np.exp(-19.0 * (rel_g - 0.5)))
    q_a = 0.9995 / (1.0 + np.exp(-22.0 * (rel_a - 0.5)))
    return np.sqrt(q_g * q_a)


_NABF_TD, _NABF_WMIN, _NABF_LG = 2.0, 0.001, 1.5


def _nabf_weights(g: FloatImage) -> FloatImage:
    return np.where(g >= _NABF_TD, g ** _NABF_LG, _NABF_WMIN)


def _nabf(a: FloatImage, b: FloatImage, f: FloatImage, sc: _Scratch) -> float:
    """Nabf; Q is evaluated only at the pixels where F has the strongest edge."""
    g_a, g_b, g_f = (_nabf_strength(x, sc) for x in (a, b, f))
    w_sum = 0.0
    strong = sc.take(a.shape, np.bool_)
    tmp = sc.take(a.shape)
    for g in (g_a, g_b):
        np.greater_equal(g, _NABF_TD, out=strong)
        np.sqrt(g, out=tmp)
        tmp *= g  # g^1.5
        w_sum += float(np.sum(tmp, where=strong)) + _NABF_WMIN * float(g.size - np.count_nonzero(strong))
    artefact = np.greater(g_f, g_a, out=strong)
    artefact &= g_f > g_b
    idx = np.flatnonzero(artefact)
    picked = [g.ravel()[idx] for g in (g_a, g_b, g_f)]
    sc.give(g_a, g_b, g_f, strong, tmp)
    if idx.size == 0:
        return 0.0
    alphas = []
    for x in (a, b, f):
        gv, gh = _nabf_sobel(x, sc)
        alphas.append(_nabf_alpha(gv.ravel()[idx], gh.ravel()[idx]))
        sc.give(gv, gh)
    (ga, gb, gf), (aa, ab, af) = picked, alphas
    num = float(np.sum((1.0 - _nabf_q(ga, aa, gf, af)) * _nabf_weights(ga))
                + np.sum((1.0 - _nabf_q(gb, ab, gf, af)) * _nabf_weights(gb)))
    return num / w_sum


def nabf(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike) -> float:
    """Nabf, the fusion-artefact measure as modified by B. K. Shreyamsha Kumar (lower is better).

    Kumar, "Image fusion based on pixel significance using cross bilateral filter", Signal Image
    Video Process. 9(5), 2015 (code ``objective_fusion_perform_fn.m``, copied as Tang's
    ``analysis_nabf.m``), on top of Petrovic & Xydeas, "Objective image fusion performance
    characterisation", ICCV 2005. Convention followed, from the MATLAB original (not the Qabf
    one): Sobel kernels / 8 applied by correlation to the image mirror-extended by one pixel
    without repeating the edge (``per_extn_im_fn``); relative strength min/max, 0 where either
    strength is 0; orientation atan(gv/gh), 0 where both are 0; relative orientation
    ||alpha_S - alpha_F| - pi/2| * 2/pi; Q_g = 0.9999 / (1 + e^{-19 (G - 0.5)}),
    Q_alpha = 0.9995 / (1 + e^{-22 (A - 0.5)}), Q = sqrt(Q_g Q_alpha); weights w = g^1.5 where
    g >= 2, else 0.001;
    Nabf = sum over pixels with g_F > g_A and g_F > g_B of [(1 - Q^{AF}) w_A + (1 - Q^{BF}) w_B],
    divided by sum(w_A + w_B) over all pixels. Nabf(A, A, A) = 0.
    """
    a_, b_, f_ = _as_triple(a, b, f)
    return _nabf(a_, b_, f_, _Scratch())


# --------------------------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------------------------

_SSIM_GAUSS_SIGMA = 1.5
_SSIM_GAUSS_SIZE = 11  # scikit-image: 2 * int(3.5 * 1.5 + 0.5) + 1


@dataclass(frozen=True)
class SSIMConvention:
    """Which of the SSIM variants in circulation to compute (research notes, section 1.2).

    The default (7x7 uniform window with sample covariance, sum over the two sources,
    data_range 2) reproduces the CDDFuse evaluator as released: it called scikit-image 0.19
    without ``data_range`` on float images, and that version inferred the float dtype range
    (-1, 1), i.e. data_range = 2 on 0-255 data (C1 = 4e-4, C2 = 3.6e-3). FILM's copy uses
    data_range 255; ``window="gaussian", combine="mean", data_range=255`` is the Wang et al.
    2004 setting. ``win_size`` applies to the uniform window only: the Gaussian window is always
    11x11 with sigma 1.5 (scikit-image ``gaussian_weights=True``).
    """

    window: str = "uniform"
    win_size: int = 7
    combine: str = "sum"
    data_range: float = 2.0

    def __post_init__(self) -> None:
        if self.window not in ("uniform", "gaussian"):
            raise ValueError(f"SSIMConvention.window must be 'uniform' or 'gaussian', got {self.window!r}")
        if (isinstance(self.win_size, bool) or not isinstance(self.win_size, (int, np.integer))
                or self.win_size < 3 or self.win_size % 2 == 0):
            raise ValueError(f"SSIMConvention.win_size must be an odd integer >= 3, got {self.win_size!r}")
        if self.combine not in ("sum", "mean"):
            raise ValueError(f"SSIMConvention.combine must be 'sum' or 'mean', got {self.combine!r}")
        if (isinstance(self.data_range, bool) or not isinstance(self.data_range, (int, float, np.number))
                or not math.isfinite(self.data_range) or self.data_range <= 0):
            raise ValueError(f"SSIMConvention.data_range must be a finite number > 0, got {self.data_range!r}")

    @property
    def effective_win_size(self) -> int:
        """Side of the window actually used (11 for the Gaussian window)."""
        return self.win_size if self.window == "uniform" else _SSIM_GAUSS_SIZE

    def describe(self) -> str:
        """One line for table captions, e.g. '7x7 uniform window, sum over sources, data_range 2'."""
        if self.window == "uniform":
            win = f"{self.win_size}x{self.win_size} uniform window"
        else:
            win = f"{_SSIM_GAUSS_SIZE}x{_SSIM_GAUSS_SIZE} Gaussian window (sigma {_SSIM_GAUSS_SIGMA:g})"
        return f"{win}, {self.combine} over sources, data_range {self.data_range:g}"


def _ssim_filter(conv: SSIMConvention) -> Callable[[FloatImage, FloatImage], FloatImage]:
    """Same-size local-mean filter of the SSIM window, writing into its second argument."""
    if conv.window == "uniform":
        n = conv.win_size

        def box(x: FloatImage, out: FloatImage) -> FloatImage:
            return cv2.boxFilter(x, cv2.CV_64F, (n, n), dst=out, normalize=True, borderType=cv2.BORDER_REFLECT)

        return box
    k = _gaussian_1d(_SSIM_GAUSS_SIZE, _SSIM_GAUSS_SIGMA)  # = scipy.ndimage.gaussian_filter's kernel
    return lambda x, out: _filter_full(x, k, out=out)


def _ssim_against(f: FloatImage, sources: Sequence[FloatImage], conv: SSIMConvention, sc: _Scratch) -> list[float]:
    """Mean SSIM(F, S) for each source S, with the statistics of F computed once.

    Like scikit-image, the SSIM map is averaged after cropping (win - 1) // 2 pixels on each
    side, which drops every pixel whose window reaches into the padding, so the padding mode
    never matters. The uniform window uses the sample covariance N/(N-1), N = win^2
    (scikit-image's default ``use_sample_covariance=True``); the Gaussian window the population
    covariance.
    """
    win = conv.effective_win_size
    _check_min_size(f.shape, win, "ssim")
    filt = _ssim_filter(conv)
    n_win = win * win
    cov_norm = n_win / (n_win - 1.0) if conv.window == "uniform" else 1.0
    c1 = (0.01 * conv.data_range) ** 2
    c2 = (0.03 * conv.data_range) ** 2
    valid = _valid(f.shape, (win - 1) // 2)
    mu_f, mu_f2, var_f, tmp, mu_s, var_s, cov = (sc.take(f.shape) for _ in range(7))
    filt(f, mu_f)
    np.multiply(mu_f, mu_f, out=mu_f2)
    filt(np.multiply(f, f, out=tmp), var_f)
    var_f -= mu_f2
    var_f *= cov_norm
    out = []
    for s in sources:
        filt(s, mu_s)
        filt(np.multiply(s, s, out=tmp), var_s)
        filt(np.multiply(s, f, out=tmp), cov)
        mu_fs = np.multiply(mu_f, mu_s, out=tmp)
        cov -= mu_fs
        cov *= 2.0 * cov_norm
        cov += c2  # 2 cov + C2
        mu_s *= mu_s
        var_s -= mu_s
        var_s *= cov_norm
        var_s += var_f
        var_s += c2  # var_f + var_s + C2
        mu_s += mu_f2
        mu_s += c1  # mu_f^2 + mu_s^2 + C1
        mu_fs *= 2.0
        mu_fs += c1  # 2 mu_f mu_s + C1
        mu_fs *= cov
        mu_s *= var_s
        mu_fs /= mu_s
        out.append(float(np.mean(mu_fs[valid])))
    sc.give(mu_f, mu_f2, var_f, tmp, mu_s, var_s, cov)
    return out


def _combine(values: Sequence[float], combine: str) -> float:
    return float(sum(values)) if combine == "sum" else float(sum(values)) / len(values)


def ssim(a: npt.ArrayLike, b: npt.ArrayLike, f: npt.ArrayLike, *, window: str = "uniform", win_size: int = 7,
         combine: str = "sum", data_range: float = 2.0) -> float:
    """SSIM(F, A) and SSIM(F, B) (Wang, Bovik, Sheikh & Simoncelli, IEEE TIP 13(4), 2004), summed or averaged.

    Mean of the SSIM map with K1 = 0.01, K2 = 0.03, cropped by (win - 1) // 2 as scikit-image
    does. ``window="uniform"``: win_size x win_size box with sample covariance (scikit-image's
    default); ``window="gaussian"``: 11x11 Gaussian, sigma 1.5, population covariance
    (scikit-image ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``).
    The defaults (uniform 7, sum, data_range 2) reproduce the released CDDFuse evaluator, whose
    scikit-image 0.19 inferred data_range = 2 for float input; see :class:`SSIMConvention`.
    """
    conv = SSIMConvention(window=window, win_size=win_size, combine=combine, data_range=data_range)
    a_, b_, f_ = _as_triple(a, b, f)
    return _combine(_ssim_against(f_, (a_, b_), conv, _Scratch()), conv.combine)


# --------------------------------------------------------------------------------------------
# All metrics at once
# --------------------------------------------------------------------------------------------

def evaluate_fusion(ir: npt.ArrayLike, vis: npt.ArrayLike, fused: npt.ArrayLike, *,
                    ssim_convention: SSIMConvention | None = None) -> dict[str, float]:
    """Every metric of METRIC_NAMES for one (IR, visible, fused) gray triple, keyed in that order.

    Inputs: 2-D arrays of one shape, at least 41x41 (for VIF), finite, on a 0-255 scale; they
    are converted to float64. ValueError otherwise. The quantised images, the entropy of F and
    the work arrays are shared between metrics. ``ssim_convention`` defaults to
    ``SSIMConvention()``, the CDDFuse setting.
    """
    conv = SSIMConvention() if ssim_convention is None else ssim_convention
    if not isinstance(conv, SSIMConvention):
        raise TypeError(f"ssim_convention must be an SSIMConvention, got {type(conv).__name__}")
    a, b, f = _as_triple(ir, vis, fused, names=("ir", "vis", "fused"))
    _check_min_size(f.shape, max(VIF_MIN_SIZE, conv.effective_win_size), "evaluate_fusion")
    sc = _Scratch()

    qa, qb, qf = _quantise(a), _quantise(b), _quantise(f)
    h_f_nats = _entropy_from_counts(np.bincount(qf.ravel(), minlength=256), 1.0)
    mi_nats = _mutual_information_q(qa, qb, qf, h_f=h_f_nats)

    result = {
        "EN": h_f_nats / _LN2,
        "SD": float(np.std(f)),
        "SF": _spatial_frequency(f),
        "AG": _average_gradient(f, sc),
        "MI_nats": mi_nats,
        "MI_bits": mi_nats / _LN2,
        "SCD": _scd(a, b, f, sc),
        "CC": 0.5 * (_pearson(a, f, sc) + _pearson(b, f, sc)),
        "VIF": float(sum(_vifp_multi((a, b), f, sc))),
        "Qabf": _qabf(a, b, f, sc),
        "Nabf": _nabf(a, b, f, sc),
        "SSIM": _combine(_ssim_against(f, (a, b), conv, sc), conv.combine),
    }
    return {name: float(result[name]) for name in METRIC_NAMES}
