"""Denoising unit adapted to the current stream by Zero-Shot Noise2Noise (TeRF eqs. 18-20).

ZS-N2N (Mansour & Heckel 2023; TeRF eqs. 18-20) splits a noisy image x into two half-resolution
images D1(x), D2(x) with the fixed 2x2 diagonal kernels [[0, ½], [½, 0]] and [[½, 0], [0, ½]]:
their noise is independent but their content almost identical, so a unit f that predicts the
noise is trained with

``L_res  = ‖D1 − f(D1) − D2‖² + ‖D2 − f(D2) − D1‖²``
``L_cons = ‖D1 − f(D1) − D1(x − f(x))‖² + ‖D2 − f(D2) − D2(x − f(x))‖²``.

TeRF runs 100 epochs of Adam on a small CNN (6.2 s on a desktop GPU). Here the unit is *linear*,
a k×k convolution, so both terms are quadratic in its weights and their exact minimum is one
k²×k² least-squares solve: tens of milliseconds on a CPU instead of seconds, no learning rate,
no iterations, deterministic. The adapted unit is then one ``filter2D`` per frame (about 1 ms at
640x480). Because it is fitted to the noise actually present, it leaves a clean image almost
untouched (≈ 65 dB on clean RoadScene frames), where a fixed blur always blurs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import DataError

KERNEL = 7
#: Largest training crop (pixels per side), so adaptation stays well under its 2 s budget.
MAX_CROP = 320
#: Standard deviation (pixels) of the fixed Gaussian denoiser used as the reference.
FIXED_SIGMA = 1.0


def downsample_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """D1(x), D2(x): averages of the two diagonals of every 2x2 block (ZS-N2N's downsampler)."""
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    x = x[:h, :w]
    return 0.5 * (x[0::2, 1::2] + x[1::2, 0::2]), 0.5 * (x[0::2, 0::2] + x[1::2, 1::2])


def _patches(x: np.ndarray, k: int) -> list[np.ndarray]:
    """The k² shifted copies of ``x`` (reflect-padded): column c of the patch matrix, as images."""
    r = k // 2
    padded = np.pad(x, r, mode="reflect")
    h, w = x.shape
    return [padded[i:i + h, j:j + w] for i in range(k) for j in range(k)]


@dataclass
class DenoiseUnit:
    """An adapted linear denoiser: ``x − f(x)`` is one convolution with ``kernel``."""

    kernel: np.ndarray
    fit_seconds: float
    training_pixels: int

    def apply(self, y: np.ndarray) -> np.ndarray:
        """Denoised float32 plane (same scale as the input)."""
        return cv2.filter2D(y.astype(np.float32, copy=False), -1, self.kernel, borderType=cv2.BORDER_REFLECT)


def fit_zero_shot_unit(noisy: np.ndarray, kernel: int = KERNEL, consistency: bool = True) -> DenoiseUnit:
    """Exact minimiser of TeRF's L_res + L_cons (eqs. 18-20) for a linear k×k noise predictor,
    fitted on ``noisy`` (2-D, any scale; the central MAX_CROP² crop is used)."""
    noisy = np.asarray(noisy, np.float32)
    if noisy.ndim != 2 or min(noisy.shape) < 2 * kernel:
        raise DataError(f"denoise adaptation needs a 2-D image of at least {2 * kernel} px a side, "
                        f"got shape {noisy.shape}")
    start = time.perf_counter()
    h, w = noisy.shape
    ch, cw = min(h, MAX_CROP), min(w, MAX_CROP)
    x = noisy[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
    x = x[: (ch // 2) * 2, : (cw // 2) * 2]
    d1, d2 = downsample_pair(x)
    n = k2 = kernel * kernel
    gram = np.zeros((n, n))
    rhs = np.zeros(n)

    def add(columns: list[np.ndarray], target: np.ndarray | None) -> None:
        nonlocal gram, rhs
        # float32 products, summed in float64 across terms; 49 unknowns from ~10^4 rows. OpenCV's
        # gemm, not NumPy's: OpenBLAS threads spin and stall (0.4 s for this product) when the
        # two cores are busy with the stream, OpenCV's single call takes ~1 ms either way.
        a = np.stack([c.ravel() for c in columns], axis=1)
        gram += cv2.gemm(a, a, 1.0, None, 0.0, flags=cv2.GEMM_1_T).astype(np.float64)
        if target is not None:
            column = np.ascontiguousarray(target, np.float32).reshape(-1, 1)
            rhs += cv2.gemm(a, column, 1.0, None, 0.0, flags=cv2.GEMM_1_T).astype(np.float64).ravel()

    p1, p2 = _patches(d1, kernel), _patches(d2, kernel)
    # L_res: f(D1) should equal D1 − D2 (the noise difference), and symmetrically.
    add(p1, d1 - d2)
    add(p2, d2 - d1)
    if consistency:
        # L_cons: D1(x − f(x)) − (D1 − f(D1)) = f(D1) − D1(f(x)) should vanish.
        px = _patches(x, kernel)
        down = [downsample_pair(c) for c in px]
        add([a - b[0] for a, b in zip(p1, down, strict=True)], None)
        add([a - b[1] for a, b in zip(p2, down, strict=True)], None)
    theta = np.linalg.solve(gram + 1e-6 * np.trace(gram) / k2 * np.eye(k2), rhs)
    denoise_kernel = -theta.reshape(kernel, kernel)
    denoise_kernel[kernel // 2, kernel // 2] += 1.0
    return DenoiseUnit(denoise_kernel.astype(np.float32), time.perf_counter() - start, int(x.size))


def fixed_denoise(y: np.ndarray, sigma: float = FIXED_SIGMA) -> np.ndarray:
    """The reference "trained once" alternative: a fixed Gaussian blur (float32)."""
    return cv2.GaussianBlur(np.asarray(y, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
