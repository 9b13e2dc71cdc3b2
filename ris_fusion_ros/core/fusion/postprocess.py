"""Output post-processing that an evaluation applies identically to every fusion method.

Published fusion results differ in how the output is saved: SeAFusion's test script stretches
its output to the full 0-255 range, most others save it as it comes. A fair comparison applies
one rule to every method and says which; ``rgb-minmax`` reproduces SeAFusion's saving step
(a global min-max stretch over all pixels and channels of the colour image), ``none`` keeps the
outputs as they are.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

POSTPROCESSING = ("none", "rgb-minmax")


def minmax_stretch_rgb(rgb: np.ndarray) -> np.ndarray:
    """Global min-max stretch of a uint8 image over all pixels and channels (SeAFusion's saving step).

    It is the identity whenever the image already spans 0..255, which is the case for most
    MSRS frames fused by max-like methods.
    """
    lo, hi = int(rgb.min()), int(rgb.max())
    if (lo == 0 and hi == 255) or hi <= lo:
        return rgb
    scaled = (rgb.astype(np.float32) - lo) * np.float32(255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def check_postprocessing(name: str) -> str:
    if name not in POSTPROCESSING:
        raise ConfigError(f"unknown post-processing '{name}'; choose one of {', '.join(POSTPROCESSING)}")
    return name


def postprocess(rgb: np.ndarray, name: str) -> np.ndarray:
    """Apply the named post-processing to a fused uint8 image."""
    if check_postprocessing(name) == "none":
        return rgb
    return minmax_stretch_rgb(rgb)
