"""Reading and writing image files as numpy arrays (Pillow: PNG, JPEG, WebP, BMP, TIFF).

Infrared is returned as one uint8 channel (3-channel files with equal channels, as LLVIP
and MSRS ship them, convert exactly); visible as uint8 RGB (gray files are replicated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError


def _open(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            if mode == "L" and image.mode in ("I;16", "I;16B", "I"):
                raise DataError(f"{path} is a 16-bit image; convert it to 8-bit before fusion evaluation")
            return np.asarray(image.convert(mode), dtype=np.uint8).copy()
    except FileNotFoundError as exc:
        raise DataError(f"image file not found: {path}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc


def read_ir(path: str | Path) -> np.ndarray:
    """Infrared image as uint8 HxW."""
    return _open(Path(path), "L")


def read_visible(path: str | Path) -> np.ndarray:
    """Visible image as uint8 HxWx3, RGB order."""
    return _open(Path(path), "RGB")


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 HxW or HxWx3 (RGB) array; the suffix picks the format (PNG is lossless)."""
    path = Path(path)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise DataError(f"refusing to write {path}: expected uint8 HxW or HxWx3, got {image.dtype} {image.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
