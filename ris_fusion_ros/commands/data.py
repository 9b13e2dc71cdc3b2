"""``ris-fusion data``: list the known data sets and check that one loads cleanly."""

from __future__ import annotations

import argparse
from collections import Counter

from tqdm import tqdm

from ..core.data import DATASETS, open_dataset
from ..core.errors import RisFusionError
from .arguments import add_data_args


def list_datasets(args: argparse.Namespace) -> int:
    """Print each known data set, where it is looked for, and how many pairs are there."""
    for name, spec in DATASETS.items():
        try:
            dataset = open_dataset(name, shared=args.shared_root)
            where = f"{len(dataset)} pairs in {dataset.root}"
        except RisFusionError as exc:
            where = f"unavailable: {exc}"
        print(f"{name:10s} {spec.description}\n{'':10s} {where}")
    return 0


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, "msrs")


def check_dataset(args: argparse.Namespace) -> int:
    """Read every pair of one data set; report sizes, box counts and every problem found."""
    dataset = open_dataset(args.dataset, data_root=args.data_root, split=args.split, shared=args.shared_root)
    sizes: Counter[tuple[int, int]] = Counter()
    boxes: Counter[int] = Counter()
    problems: list[str] = []
    for record in tqdm(dataset.records, desc=f"check {args.dataset}", unit="pair", disable=args.no_progress):
        try:
            pair = dataset.load(record)
        except RisFusionError as exc:
            problems.append(str(exc))
            continue
        sizes[pair.size] += 1
        boxes.update(int(c) for c in pair.boxes[:, 0])
    print(f"{args.dataset}: {len(dataset)} pairs under {dataset.root}"
          + (f" (split {dataset.split_path})" if dataset.split_path else ""))
    common = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common(5))
    print(f"sizes: {len(sizes)} distinct; most common: {common}")
    if boxes:
        names = dataset.class_names
        print("boxes: " + ", ".join(f"{names[c] if c < len(names) else c}: {n}" for c, n in sorted(boxes.items())))
    for problem in problems:
        print(f"problem: {problem}")
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0
