"""Data sets of paired infrared/visible images and their labels."""

from .datasets import DATASETS, DatasetSpec, Pair, PairDataset, PairRecord, open_dataset, read_split
from .images import read_ir, read_visible, write_image

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "Pair",
    "PairDataset",
    "PairRecord",
    "open_dataset",
    "read_ir",
    "read_split",
    "read_visible",
    "write_image",
]
