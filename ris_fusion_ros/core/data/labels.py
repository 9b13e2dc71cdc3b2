"""Detection labels in YOLO text format (``class cx cy w h``, normalised to [0, 1])."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError


def read_class_names(path: Path) -> list[str]:
    """Class names from a ``classes.txt`` whose lines are ``<id> <name>`` or just ``<name>``."""
    names: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        parts = line.split()
        if not parts:
            continue
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = " ".join(parts[1:])
        else:
            names[number] = " ".join(parts)
    return [names[i] for i in sorted(names)]


def read_yolo_labels(path: Path, width: int, height: int) -> np.ndarray:
    """Boxes as an (N, 5) array ``class_id, x1, y1, x2, y2`` in pixels, clipped to the image.

    Fields may be separated by any whitespace (MSRS files use two spaces and trailing
    blanks); an empty file means no objects. A malformed line raises DataError naming
    the file and line number.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read label file {path}: {exc.strerror or exc}") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) != 5:
                raise ValueError(f"expected 5 fields, got {len(parts)}")
            cls, cx, cy, w, h = (float(p) for p in parts)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: bad YOLO label line {line!r} ({exc})") from exc
        if not all(np.isfinite([cx, cy, w, h])) or w < 0 or h < 0:
            raise DataError(f"{path}:{number}: box values must be finite and non-negative: {line!r}")
        x1, y1 = (cx - w / 2) * width, (cy - h / 2) * height
        x2, y2 = (cx + w / 2) * width, (cy + h / 2) * height
        rows.append([cls, max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)


def label_folders(root: Path, names: Sequence[str | Path]) -> list[Path]:
    """Folders of other annotations of a data set's images (``labels/ir``: relative to ``root``, or
    absolute); ConfigError naming the first one that is not a folder."""
    folders = [Path(root) / name for name in names]
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not a folder of YOLO label files")
    return folders


def read_label_sets(folders: Sequence[Path], pair_id: str, width: int, height: int) -> list[np.ndarray]:
    """The boxes of ``pair_id`` in each folder of YOLO files that has a file for it (other annotations of
    the same image, e.g. MSRS ``labels/ir`` and ``labels/vi``)."""
    return [read_yolo_labels(folder / f"{pair_id}.txt", width, height) for folder in folders
            if (folder / f"{pair_id}.txt").is_file()]
