"""The YOLOX training objective, written from its description (Ge et al., "YOLOX: Exceeding YOLO Series
in 2021", sections 2.1-2.2): anchor-free cells, SimOTA label assignment, IoU loss on the assigned cells,
objectness BCE on every cell, class BCE against IoU-scaled one-hot targets.

SimOTA: a cell is a candidate for an object when its centre lies inside the object's box or within
2.5 strides of the object's centre. Each object takes its ``k`` cheapest candidates, cost = class BCE +
3 x (-log IoU) (+ a large penalty unless the cell is inside both regions), with ``k`` the sum of its
ten best IoUs (at least 1); a cell claimed by several objects stays with the cheapest.

Target rows of a negative class are ignore regions (a teacher's unsure boxes, :mod:`.pseudo`): no object is
assigned to them, and the cells whose centres lie inside one and that no object claims get no objectness loss.
"""

from __future__ import annotations

import torch
from torch.nn import functional

CENTER_RADIUS = 2.5
TOP_IOUS = 10
IOU_COST = 3.0
OUTSIDE_COST = 1e5
BOX_WEIGHT = 5.0


def cell_grid(preds: list[torch.Tensor], strides: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, 2) cell offsets (x, y) and (A,) strides, in the row order of the flattened levels."""
    grids, steps = [], []
    for p, s in zip(preds, strides, strict=True):
        ny, nx = p.shape[2:4]
        gy, gx = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
        grids.append(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1))
        steps.append(torch.full((ny * nx,), float(s)))
    return torch.cat(grids).float(), torch.cat(steps)


def _xyxy(cxcywh: torch.Tensor) -> torch.Tensor:
    return torch.cat([cxcywh[..., :2] - cxcywh[..., 2:] / 2, cxcywh[..., :2] + cxcywh[..., 2:] / 2], -1)


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of (G, 4) and (A, 4) ``cx, cy, w, h`` boxes -> (G, A)."""
    a, b = _xyxy(a), _xyxy(b)
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def matched_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of row-aligned (N, 4) ``cx, cy, w, h`` boxes."""
    a, b = _xyxy(a), _xyxy(b)
    inter = (torch.min(a[:, 2:], b[:, 2:]) - torch.max(a[:, :2], b[:, :2])).clamp(min=0).prod(1)
    union = (a[:, 2:] - a[:, :2]).prod(1) + (b[:, 2:] - b[:, :2]).prod(1) - inter
    return inter / (union + 1e-9)


def inside_any(centres: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(A,) bool: which of the (A, 2) points lie inside any of the (G, 4) ``cx, cy, w, h`` boxes."""
    xyxy = _xyxy(boxes)
    return ((centres[None] > xyxy[:, None, :2]) & (centres[None] < xyxy[:, None, 2:])).all(2).any(0)


@torch.no_grad()
def simota(gt_boxes: torch.Tensor, gt_classes: torch.Tensor, boxes: torch.Tensor, scores: torch.Tensor,
           centres: torch.Tensor, strides: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Assign cells to one image's objects.

    ``gt_boxes`` (G, 4) and ``boxes`` (A, 4, predicted) ``cx, cy, w, h``; ``scores`` (A, nc) class x
    objectness probabilities; ``centres`` (A, 2) cell centres; ``strides`` (A,). Returns the indices of the
    assigned cells, the object each one predicts, and the IoU of its predicted box with that object.
    """
    empty = torch.zeros(0, dtype=torch.long)
    inside_box = ((centres[None] > gt_boxes[:, None, :2] - gt_boxes[:, None, 2:] / 2)
                  & (centres[None] < gt_boxes[:, None, :2] + gt_boxes[:, None, 2:] / 2)).all(2)
    near_centre = ((centres[None] - gt_boxes[:, None, :2]).abs() < CENTER_RADIUS * strides[None, :, None]).all(2)
    candidate = (inside_box | near_centre).any(0)
    cells = torch.nonzero(candidate).squeeze(1)
    if not len(cells):
        return empty, empty, torch.zeros(0)
    both = (inside_box & near_centre)[:, cells]
    ious = pairwise_iou(gt_boxes, boxes[cells])
    q = scores[cells].clamp(1e-6, 1 - 1e-6).sqrt()  # YOLOX scores the geometric mean of class and objectness
    negative = -torch.log1p(-q)
    class_cost = negative.sum(1)[None, :] + (-torch.log(q) - negative)[:, gt_classes].T
    cost = class_cost + IOU_COST * -torch.log(ious + 1e-8) + OUTSIDE_COST * (~both).float()
    top = torch.topk(ious, min(TOP_IOUS, len(cells)), dim=1).values
    ks = top.sum(1).int().clamp(min=1)
    matching = torch.zeros_like(cost, dtype=torch.bool)
    for g, k in enumerate(ks.tolist()):
        matching[g, torch.topk(cost[g], k, largest=False).indices] = True
    claimed = matching.sum(0) > 1
    if claimed.any():
        cheapest = cost[:, claimed].argmin(0)
        matching[:, claimed] = False
        matching[cheapest, torch.nonzero(claimed).squeeze(1)] = True
    assigned = matching.any(0)
    owner = matching[:, assigned].float().argmax(0)
    positions = torch.nonzero(assigned).squeeze(1)
    return cells[positions], owner, ious[owner, positions]


class YoloXLoss:
    """Total loss (5 x IoU + objectness + class, each per assigned cell) and its parts for logging."""

    def __init__(self, strides: tuple[int, ...], nc: int) -> None:
        self.strides, self.nc = strides, nc

    def __call__(self, preds: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """``preds``: per level ``[B, 5 + nc, H, W]`` logits; ``targets`` (T, 6): image, class, cx, cy, w, h."""
        grid, strides = cell_grid(preds, self.strides)
        rows = torch.cat([p.flatten(2) for p in preds], 2).permute(0, 2, 1)  # (B, A, 5 + nc)
        boxes = torch.cat([(rows[..., :2] + grid) * strides[:, None], rows[..., 2:4].exp() * strides[:, None]], -1)
        centres = (grid + 0.5) * strides[:, None]
        obj_target = torch.zeros(rows.shape[:2])
        obj_weight = torch.ones(rows.shape[:2])
        box_terms, class_terms = [], []
        for b in range(rows.shape[0]):
            rows_b = targets[targets[:, 0] == b]
            ignored = rows_b[rows_b[:, 1] < 0]
            if len(ignored):
                obj_weight[b, inside_any(centres, ignored[:, 2:6])] = 0.0
            objects = rows_b[rows_b[:, 1] >= 0]
            if not len(objects):
                continue
            classes = objects[:, 1].long()
            scores = rows[b, :, 5:].sigmoid() * rows[b, :, 4:5].sigmoid()
            cells, owner, ious = simota(objects[:, 2:6], classes, boxes[b].detach(), scores.detach(), centres,
                                        strides)
            if not len(cells):
                continue
            obj_target[b, cells] = 1.0
            obj_weight[b, cells] = 1.0
            box_terms.append(1.0 - matched_iou(boxes[b, cells], objects[owner, 2:6]).pow(2))
            class_target = functional.one_hot(classes[owner], self.nc).float() * ious[:, None]
            class_terms.append(functional.binary_cross_entropy_with_logits(rows[b, cells, 5:], class_target,
                                                                           reduction="none").sum(1))
        positives = max(1, sum(len(t) for t in box_terms))
        box = torch.cat(box_terms).sum() / positives if box_terms else rows.sum() * 0
        cls = torch.cat(class_terms).sum() / positives if class_terms else rows.sum() * 0
        obj = functional.binary_cross_entropy_with_logits(rows[..., 4], obj_target, obj_weight,
                                                          reduction="sum") / positives
        parts = {"box": BOX_WEIGHT * box, "obj": obj, "cls": cls}
        total = sum(parts.values())
        return total, {k: float(v.detach()) for k, v in parts.items()} | {"positives": float(positives)}
