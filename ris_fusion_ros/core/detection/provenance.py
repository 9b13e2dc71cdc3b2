"""Was a detector trained on the images it is being measured on?

``train detector`` writes a ``.json`` beside every checkpoint and ONNX file with the ids of the pairs it
was trained on (``pair_ids``). A fine-tuned detector scored on those same pairs looks better than it is,
and nothing in the numbers shows it; the evaluation commands therefore say how many of the evaluated
pairs each detector was trained on, from that record. The published COCO weights were trained on no
pair of these data sets. An ONNX file without a record is reported as unknown, never as held out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .detector import NAMED_MODELS, PACKAGED_MODELS, model_path
from .ensemble import ensemble_members


@dataclass(frozen=True)
class TrainingOverlap:
    """How one detector (an ensemble counts as one) relates to the pairs an evaluation scores."""

    detector: str
    evaluated: int
    trained_on: tuple[str, ...]  # evaluated pair ids some member was trained on, sorted
    unrecorded: tuple[str, ...]  # members whose training pairs are not known (no record beside the file)
    sources: tuple[str, ...]  # "dataset (split)" of each member's record

    @property
    def held_out(self) -> bool:
        """True only when every member's record is known and none of its pairs is evaluated."""
        return not self.trained_on and not self.unrecorded

    def sentence(self) -> str:
        """One line for a report: what the training record says about this evaluation."""
        if self.trained_on:
            shown = ", ".join(self.trained_on[:5]) + (", ..." if len(self.trained_on) > 5 else "")
            return (f"WARNING: {self.detector} was trained on {len(self.trained_on)} of the {self.evaluated} "
                    f"evaluated pairs ({shown}; record: {'; '.join(self.sources)}): these scores are not a "
                    "held-out measurement")
        if self.unrecorded:
            return (f"{self.detector}: no training record beside {', '.join(self.unrecorded)}; whether it saw "
                    "the evaluated pairs is unknown")
        if self.sources:
            return (f"{self.detector}: held out (none of the {self.evaluated} evaluated pairs is among the pairs "
                    f"it was trained on; record: {'; '.join(self.sources)})")
        return f"{self.detector}: published weights, trained on none of the evaluated pairs"


def training_record(path: Path) -> dict | None:
    """The ``.json`` that ``train detector`` wrote beside ``path`` (.pt or .onnx), if it lists pair ids."""
    record_path = Path(path).with_suffix(".json")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pair_ids"), list) else None


def training_overlap(detector: str, evaluated_ids: Iterable[str], shared: str | None = None) -> TrainingOverlap:
    """Compare each member's recorded training pairs with ``evaluated_ids`` (pair ids such as ``00004N``)."""
    evaluated = set(evaluated_ids)
    trained_on: set[str] = set()
    unrecorded, sources = [], []
    for member in ensemble_members(detector):
        key = member.lower()
        if key in NAMED_MODELS and key not in PACKAGED_MODELS:
            continue  # the published COCO weights
        path = model_path(key, shared) if key in PACKAGED_MODELS else Path(member)
        record = training_record(path)
        if record is None:
            unrecorded.append(path.name)
            continue
        trained_on |= evaluated & {str(i) for i in record["pair_ids"]}
        sources.append(f"{record.get('samples', len(record['pair_ids']))} pairs of {record.get('dataset', '?')} "
                       f"({record.get('split') or 'all pairs'})")
    return TrainingOverlap(detector, len(evaluated), tuple(sorted(trained_on)), tuple(unrecorded), tuple(sources))
