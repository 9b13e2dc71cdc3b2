"""Why a referring answer is wrong: the instances it chose from, or the choice among them.

The referrer answers from the instances it is given. For each wrong expression this compares, for the
classes the text names (a relation's reference included), the instances the referrer saw at the operating
score with the labelled objects of the image, one to one at IoU >= 0.5 (greedy by score, as COCO matches):

- labelled objects without an instance are **missed** (by the detector, or not visible to it);
- instances without a labelled object are **extra** (false detections, or objects the labels leave out);
- with neither, the instance set was right and the **selection** differs: an order, a distance or a
  relation judged on the detector's boxes instead of the labelled ones.

So an evaluation can say how much of its error a better detector (or better labels) would remove.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from ..data import PairDataset
from ..data.labels import label_folders, read_label_sets, read_yolo_labels
from ..detection.evaluation import match_objects
from ..detection.merge import extra_objects
from ..detection.types import Detection
from ..errors import DataError
from .instances import detections_from_boxes

CAUSES = ("missed", "extra", "missed+extra", "selection")


def candidate_rows(detections: Sequence[Detection], indices: Sequence[int],
                   named: Sequence[str]) -> list[list[Any]]:
    """``[x1, y1, x2, y2, score, class]`` of ``detections[indices]`` whose class is in ``named`` (all when
    ``named`` is empty): the instances of the text's classes, as a prediction file stores them. ``indices``:
    the referrer's instances at the operating score plus what it selected (a second look goes lower)."""
    wanted = set(named)
    return [[*(round(float(v), 2) for v in detections[i].box), round(float(detections[i].score), 4),
             detections[i].class_name] for i in indices if not wanted or detections[i].class_name in wanted]


class InstanceErrors(NamedTuple):
    missed: int  # labelled objects of the named classes without an instance
    extra: int  # instances without a labelled object
    elsewhere: int  # of the extra ones: objects another label set names (the ground truth leaves them out)


def instance_errors(truth: np.ndarray, class_names: Sequence[str], candidates: Sequence[Sequence[Any]],
                    named: Sequence[str], others: np.ndarray | None = None) -> InstanceErrors:
    """The instances of the named classes against the labelled objects, one to one at IoU >= 0.5. ``truth``
    and ``others`` (objects only other annotations of the image name) are (N, 5) ``class_id, x1, y1, x2,
    y2``; ``named`` empty = every class."""
    truth = np.asarray(truth, np.float64).reshape(-1, 5)
    labelled = [d.class_name for d in detections_from_boxes(truth, list(class_names))]
    classes = sorted(set(named) if named else set(labelled) | {str(c[5]) for c in candidates})
    instances = [Detection(tuple(float(v) for v in c[:4]), float(c[4]), -1, str(c[5]))
                 for c in candidates if str(c[5]) in classes]
    matched = {det for _, det in match_objects(truth, class_names, instances, classes, min_score=0.0)}
    in_classes = sum(name in classes for name in labelled)
    unmatched = [d for i, d in enumerate(instances) if i not in matched]
    elsewhere = 0
    if others is not None and unmatched:
        elsewhere = len(match_objects(others, class_names, unmatched, classes, min_score=0.0))
    return InstanceErrors(in_classes - len(matched), len(unmatched), elsewhere)


def cause(correct: bool, missed: int, extra: int) -> str:
    """One of :data:`CAUSES` for a wrong answer, "" for a right one."""
    if correct:
        return ""
    if missed and extra:
        return "missed+extra"
    return "missed" if missed else "extra" if extra else "selection"


def image_labels(dataset: PairDataset, pair_ids: Iterable[str], other_dirs: Sequence[str] = ()
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """The labelled boxes of each pair and, given ``other_dirs`` (other annotations of the same images, e.g.
    MSRS ``labels/ir``), the objects only those name (None without). Label files and image headers only."""
    records = {r.pair_id: r for r in dataset.records}
    folders = label_folders(dataset.root, other_dirs) if other_dirs else []
    labels: dict[str, np.ndarray] = {}
    others: dict[str, np.ndarray] = {}
    for pair_id in dict.fromkeys(pair_ids):
        record = records.get(pair_id)
        if record is None:
            raise DataError(f"image '{pair_id}' is not in {dataset.root}"
                            + (f" (split {dataset.split_path})" if dataset.split_path else ""))
        with Image.open(record.vi_path) as image:
            width, height = image.size
        labels[pair_id] = (np.zeros((0, 5)) if record.label_path is None
                           else read_yolo_labels(record.label_path, width=width, height=height))
        if folders:
            others[pair_id] = extra_objects(labels[pair_id], read_label_sets(folders, pair_id, width, height))
    return labels, (others if folders else None)


def has_candidates(predictions: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the predictions carry their instances (``refer-batch`` / ``eval refer`` runs of this version)."""
    return all("candidates" in p and "named" in p for p in predictions)


def attribution_rows(rows: Sequence[dict[str, Any]], predictions: Sequence[Mapping[str, Any]],
                     labels: Mapping[str, np.ndarray], class_names: Sequence[str],
                     others: Mapping[str, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """``rows`` of :func:`~.batch.score` with ``missed``, ``extra`` (for the text's classes), ``cause`` and,
    given ``others`` (per image, the objects only other annotations name), ``extra_labelled_elsewhere``."""
    out = []
    for row, pred in zip(rows, predictions, strict=True):
        image = row["image"]
        errors = instance_errors(labels[image], class_names, pred["candidates"], pred["named"],
                                 None if others is None else others.get(image))
        extra = {"missed": errors.missed, "extra": errors.extra,
                 "cause": cause(bool(row["correct"]), errors.missed, errors.extra)}
        if others is not None:
            extra["extra_labelled_elsewhere"] = errors.elsewhere
        out.append(row | extra)
    return out


def attribution_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """Per type: the wrong answers split by cause; empty when every answer is right."""
    wrong = [r for r in rows if r["cause"]]
    if not wrong:
        return ""

    def line(kind: str, group: Sequence[Mapping[str, Any]]) -> str:
        counts = [sum(r["cause"] == c for r in group) for c in CAUSES]
        label = f"**{kind}**" if kind == "overall" else kind
        return f"| {label} | {len(group)} | " + " | ".join(str(n) for n in counts) + " |"

    instance_level = sum(r["cause"] != "selection" for r in wrong)
    lines = ["Why the wrong answers are wrong: for the classes each text names, the instances the referrer saw "
             "(scores at the operating point) against the labelled objects of the image, one to one at IoU >= 0.5. "
             "*missed*: a labelled object without an instance; *extra*: an instance without a labelled object; "
             "*selection*: the instances match the labels and the pick differs.", "",
             f"{instance_level} of {len(wrong)} wrong answers come with an instance set that differs from the "
             "labels; a better detector (or complete labels) is what those need.", "",
             "| type | wrong | missed | extra | missed+extra | selection |", "|---|---|---|---|---|---|",
             line("overall", wrong)]
    if "extra_labelled_elsewhere" in wrong[0]:
        extra = sum(int(r["extra"]) for r in wrong)
        elsewhere = sum(int(r["extra_labelled_elsewhere"]) for r in wrong)
        lines[3:3] = ["", f"Of the {extra} extra instances in wrong answers (an image's counted once per answer), "
                          f"{elsewhere} are objects the other label sets name and the ground truth leaves out."]
    for kind in sorted({r["type"] for r in wrong}):
        lines.append(line(kind, [r for r in wrong if r["type"] == kind]))
    return "\n".join(lines)
