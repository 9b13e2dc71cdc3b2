"""Which referring expressions have a second defensible answer because the ground truth leaves objects out.

MSRS ships three label sets per image, annotated on the fused, the infrared and the visible image. The
fused set is the ground truth, but the other two name objects it lacks (on the 48 held-out dev images,
49 people are only in ``labels/ir``). An expression such as "the leftmost person" then has a second
answer, the leftmost of *all* labelled people, and a detector that finds the unlabelled person is
scored wrong for it. The audit re-answers every expression with the same referrer over the ground-truth
instances plus those extra objects; where that answer differs from the stored one, the expression is
*ambiguous* and its alternative answer is kept, so an evaluation can report accuracy on the unambiguous
expressions and accuracy when either answer counts, next to the strict figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..data import PairDataset
from ..detection.merge import SAME_OBJECT_IOU
from .instances import detections_from_boxes
from .metrics import box_union_iou
from .referrer import Referrer
from .thermal_check import ThermalCheck


def alternative_answers(dataset: PairDataset, expressions: Sequence[dict[str, Any]],
                        extras: Mapping[str, np.ndarray],
                        progress: Callable[[Iterable], Iterable] | None = None) -> list[list[list[float]] | None]:
    """Per expression: the boxes the referrer selects when the objects the ground truth lacks (``extras``:
    per pair id, the boxes only the other annotations name, from
    :func:`~.attribution.image_labels`) are added as instances, or None when that answer equals the stored
    one (IoU of the box unions >= 0.5, or both empty)."""
    referrer = Referrer(thermal_check=ThermalCheck(0.0))  # labelled boxes are real objects: no thermal check
    records = {r.pair_id: r for r in dataset.records}
    by_image: dict[str, list[int]] = {}
    for index, entry in enumerate(expressions):
        by_image.setdefault(entry["image"], []).append(index)
    answers: list[list[list[float]] | None] = [None] * len(expressions)
    items = list(by_image.items())
    items = [(pair_id, indices) for pair_id, indices in items if len(extras.get(pair_id, ()))]
    for pair_id, indices in (progress(items) if progress else items):
        pair = dataset.load(records[pair_id])  # the thermal image: for the thermal expressions
        extra = extras[pair_id]
        instances = detections_from_boxes(np.vstack([pair.boxes.reshape(-1, 5), extra]), dataset.class_names)
        for index in indices:
            selection = referrer.refer(expressions[index]["text"], instances, pair.size, thermal=pair.ir)
            boxes = [[round(float(v), 2) for v in instances[i].box] for i in selection.selected]
            truth = expressions[index].get("boxes", [])
            if box_union_iou(boxes, truth, pair.size) < 0.5:  # two empty sets give IoU 1: not ambiguous
                answers[index] = boxes
    return answers


def audit_rows(rows: list[dict[str, Any]], predictions: Sequence[dict[str, Any]],
               alternatives: Sequence[list[list[float]] | None]) -> list[dict[str, Any]]:
    """``rows`` of :func:`~.batch.score` with ``ambiguous`` and ``correct_either`` (right against the stored
    answer or the alternative one) added."""
    out = []
    for row, pred, alternative in zip(rows, predictions, alternatives, strict=True):
        either = bool(row["correct"])
        if alternative is not None and not either:
            if not alternative:
                either = bool(pred["empty"])
            else:
                size = tuple(pred.get("size", (0, 0)))
                either = not pred["empty"] and box_union_iou(pred["boxes"], alternative, size) >= 0.5
        out.append(row | {"ambiguous": alternative is not None, "correct_either": either})
    return out


def audit_markdown(rows: Sequence[dict[str, Any]], label_dirs: Sequence[str]) -> str:
    """Per type: how many expressions are ambiguous, accuracy strict / on the unambiguous ones / either answer."""

    def line(kind: str, group: Sequence[dict[str, Any]]) -> str:
        clear = [r for r in group if not r["ambiguous"]]
        acc = np.mean([bool(r["correct"]) for r in group])
        clear_acc = f"{np.mean([bool(r['correct']) for r in clear]):.3f}" if clear else "–"
        either = np.mean([r["correct_either"] for r in group])
        label = f"**{kind}**" if kind == "overall" else kind
        return f"| {label} | {len(group)} | {len(group) - len(clear)} | {acc:.3f} | {clear_acc} | {either:.3f} |"

    lines = [f"Label audit: objects in {', '.join(label_dirs)} that the ground truth lacks (IoU < "
             f"{SAME_OBJECT_IOU} to every same-class box) added as instances; an expression whose answer then "
             "changes is ambiguous (its alternative answer is what the same referrer picks over all labelled "
             "objects).", "",
             "| type | n | ambiguous | acc@0.5 | acc@0.5, unambiguous only | acc@0.5, either answer |",
             "|---|---|---|---|---|---|", line("overall", rows)]
    for kind in sorted({r["type"] for r in rows}):
        lines.append(line(kind, [r for r in rows if r["type"] == kind]))
    return "\n".join(lines)
