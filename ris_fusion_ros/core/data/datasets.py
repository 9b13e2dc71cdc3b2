"""Paired infrared/visible data sets laid out as ``<root>/ir/<id>.*`` + ``<root>/vi/<id>.*``.

Every set in ``<shared>/data`` (MSRS, RoadScene, TNO, LLVIP, M3FD) uses that layout; pairs
are matched by file stem, never by extension. A split file (one id per line) selects a
subset, so the same code runs on the MSRS dev split here and on any other folder of the
same layout (e.g. the held-out MSRS pairs). Problems are reported as :class:`DataError`
naming the file: a missing partner, an unreadable image, a size mismatch, a bad label line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..paths import dataset_root
from .images import read_ir, read_visible
from .labels import read_class_names, read_yolo_labels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class DatasetSpec:
    """Where the parts of one data set live, relative to its root."""

    name: str
    description: str
    labels_dir: str | None = None  # YOLO txt ground truth, one file per id
    classes_file: str | None = None


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("msrs", "MSRS road scenes, 640x480, person/bicycle/car boxes (evaluation only)",
                    labels_dir="labels/fusion", classes_file="labels/classes.txt"),
        DatasetSpec("roadscene", "RoadScene (FLIR ADAS crops), varying sizes"),
        DatasetSpec("tno", "TNO, 25 gray pairs, varying sizes"),
        DatasetSpec("llvip", "LLVIP low-light pedestrians, 1280x1024"),
        DatasetSpec("m3fd", "M3FD, 1024x768, people/car/bus/lamp/motorcycle/truck boxes",
                    labels_dir="labels", classes_file="labels/classes.txt"),
    )
}


@dataclass(frozen=True)
class PairRecord:
    """File locations of one pair (nothing read yet)."""

    pair_id: str
    ir_path: Path
    vi_path: Path
    label_path: Path | None = None


@dataclass
class Pair:
    """One loaded pair: infrared uint8 HxW, visible uint8 HxWx3 RGB, optional boxes.

    ``boxes`` is an (N, 5) float64 array of ``class_id, x1, y1, x2, y2`` in pixels.
    """

    pair_id: str
    ir: np.ndarray
    vis: np.ndarray
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.ir.shape[1], self.ir.shape[0]


def _index_images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"image folder missing: {folder}")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.stem in found:
            raise DataError(f"two images share the id '{path.stem}': {found[path.stem]} and {path}")
        found[path.stem] = path
    return found


def read_split(path: Path) -> list[str]:
    """Ids listed one per line (blank lines and ``#`` comments ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read split file {path}: {exc.strerror or exc}") from exc
    ids = [line.split("#", 1)[0].strip() for line in lines]
    ids = [i for i in ids if i]
    if not ids:
        raise DataError(f"split file {path} lists no ids")
    return ids


class PairDataset:
    """An indexed, lazily loaded set of infrared/visible pairs.

    Construction checks that every selected id has both partners (raising DataError that
    names the missing file); images are read on access, with size and readability checks.
    """

    def __init__(self, root: str | os.PathLike[str], spec: DatasetSpec | None = None,
                 split: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root)
        self.spec = spec or DatasetSpec(self.root.name, "pairs in an ir/ + vi/ folder")
        ir_files = _index_images(self.root / "ir")
        vi_files = _index_images(self.root / "vi")
        self.split_path = self._resolve_split(split)
        ids = read_split(self.split_path) if self.split_path else sorted(set(ir_files) | set(vi_files))
        records = []
        for pair_id in ids:
            for kind, files in (("ir", ir_files), ("vi", vi_files)):
                if pair_id not in files:
                    other = vi_files.get(pair_id) or ir_files.get(pair_id)
                    partner = f" (partner of {other})" if other else ""
                    raise DataError(f"missing {kind} image for pair '{pair_id}': "
                                    f"no {self.root / kind / pair_id}.<png|jpg|webp>{partner}")
            records.append(PairRecord(pair_id, ir_files[pair_id], vi_files[pair_id], self._label_path(pair_id)))
        if not records:
            raise DataError(f"no image pairs found under {self.root}")
        self.records: list[PairRecord] = records
        self.class_names: list[str] = self._class_names()

    def _resolve_split(self, split: str | os.PathLike[str] | None) -> Path | None:
        if split is None:
            return None
        path = Path(split)
        if path.is_file():
            return path
        named = self.root / "splits" / f"{split}.txt"
        if named.is_file():
            return named
        raise DataError(f"split '{split}' not found: neither a file nor {named}")

    def _label_path(self, pair_id: str) -> Path | None:
        if self.spec.labels_dir is None:
            return None
        path = self.root / self.spec.labels_dir / f"{pair_id}.txt"
        return path if path.is_file() else None

    def _class_names(self) -> list[str]:
        if self.spec.classes_file is None:
            return []
        path = self.root / self.spec.classes_file
        return read_class_names(path) if path.is_file() else []

    @property
    def ids(self) -> list[str]:
        return [r.pair_id for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Pair]:
        for index in range(len(self.records)):
            yield self[index]

    def __getitem__(self, index: int) -> Pair:
        return self.load(self.records[index])

    def load(self, record: PairRecord) -> Pair:
        """Read one pair; DataError names the file that is unreadable or mismatched."""
        ir = read_ir(record.ir_path)
        vis = read_visible(record.vi_path)
        if ir.shape[:2] != vis.shape[:2]:
            raise DataError(
                f"size mismatch in pair '{record.pair_id}': {record.ir_path} is "
                f"{ir.shape[1]}x{ir.shape[0]} but {record.vi_path} is {vis.shape[1]}x{vis.shape[0]}"
            )
        boxes = np.zeros((0, 5))
        if record.label_path is not None:
            boxes = read_yolo_labels(record.label_path, width=ir.shape[1], height=ir.shape[0])
        return Pair(record.pair_id, ir, vis, boxes)


def open_dataset(name: str, data_root: str | os.PathLike[str] | None = None,
                 split: str | os.PathLike[str] | None = None,
                 shared: str | os.PathLike[str] | None = None) -> PairDataset:
    """Open a known data set by name (``msrs``, ``roadscene``, ``tno``, ``llvip``, ``m3fd``).

    ``data_root`` overrides the folder (any folder of the same layout works); ``split`` is a
    split file path or a name under ``<root>/splits/``.
    """
    key = name.lower()
    if key not in DATASETS:
        raise DataError(f"unknown data set '{name}'; known: {', '.join(DATASETS)}")
    return PairDataset(dataset_root(key, data_root, shared), DATASETS[key], split)
