"""The YOLOv5 training objective, written from its description: anchor matching by width/height ratio,
each target also assigned to the two nearest neighbouring cells, CIoU box loss (Zheng et al., AAAI
2020), objectness BCE against the predicted box's IoU, per-class BCE, level weights 4 / 1 / 0.4.

Optionally a distillation term keeps the mask coefficients of a segmentation model close to those of
the frozen original at every assigned cell, so the prototypes (not trained: there are no masks in the
labels) stay meaningful for the fine-tuned heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

LEVEL_BALANCE = (4.0, 1.0, 0.4)
NEIGHBOUR_OFFSETS = ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1))


@dataclass(frozen=True)
class LossWeights:
    """YOLOv5's defaults for 3 levels at 640 px (box 0.05, obj 1.0, cls 0.5 x nc/80)."""

    box: float = 0.05
    obj: float = 1.0
    cls: float = 0.5
    anchor_ratio: float = 4.0
    distill: float = 1.0


def box_ciou(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Complete IoU of (N, 4) ``cx, cy, w, h`` boxes: IoU - centre distance / enclosing diagonal - a*v."""
    p1, p2 = pred[:, :2] - pred[:, 2:] / 2, pred[:, :2] + pred[:, 2:] / 2
    t1, t2 = target[:, :2] - target[:, 2:] / 2, target[:, :2] + target[:, 2:] / 2
    inter = (torch.min(p2, t2) - torch.max(p1, t1)).clamp(min=0).prod(1)
    union = pred[:, 2:].prod(1) + target[:, 2:].prod(1) - inter + eps
    iou = inter / union
    enclose = torch.max(p2, t2) - torch.min(p1, t1)
    diagonal = enclose.pow(2).sum(1) + eps
    centre = (pred[:, :2] - target[:, :2]).pow(2).sum(1)
    v = (4 / math.pi ** 2) * (torch.atan(target[:, 2] / (target[:, 3] + eps))
                              - torch.atan(pred[:, 2] / (pred[:, 3] + eps))).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - centre / diagonal - alpha * v


@dataclass
class Assignment:
    """Cells that predict one target at one level: batch, anchor, row, column; target box in cell units."""

    image: torch.Tensor
    anchor: torch.Tensor
    row: torch.Tensor
    col: torch.Tensor
    box: torch.Tensor  # (M, 4): x, y offset from the cell corner, w, h (grid units)
    cls: torch.Tensor

    def __len__(self) -> int:
        return int(self.image.numel())


def assign(targets: torch.Tensor, anchors: torch.Tensor, stride: int, grid_hw: tuple[int, int],
           ratio: float) -> Assignment:
    """``targets`` (T, 6): image index, class, cx, cy, w, h in input pixels; ``anchors`` (na, 2) grid units."""
    na = anchors.shape[0]
    ny, nx = grid_hw
    t = targets.clone()
    t[:, 2:6] /= stride
    t = t.unsqueeze(0).expand(na, -1, -1)  # (na, T, 6)
    anchor_ids = torch.arange(na).view(na, 1).expand(na, targets.shape[0])
    r = t[..., 4:6] / anchors.view(na, 1, 2)
    keep = torch.max(r, 1 / r).max(2).values < ratio
    t, anchor_ids = t[keep], anchor_ids[keep]
    xy = t[:, 2:4]
    inverse = torch.tensor([nx, ny], dtype=xy.dtype) - xy
    left, up = ((xy % 1 < 0.5) & (xy > 1)).T
    right, down = ((inverse % 1 < 0.5) & (inverse > 1)).T
    choose = torch.stack([torch.ones_like(left), left, up, right, down])  # (5, M)
    offsets = torch.tensor(NEIGHBOUR_OFFSETS, dtype=xy.dtype) * 0.5
    t = t.unsqueeze(0).expand(5, -1, -1)[choose]
    anchor_ids = anchor_ids.unsqueeze(0).expand(5, -1)[choose]
    shift = offsets.view(5, 1, 2).expand(5, xy.shape[0], 2)[choose]
    cell = (t[:, 2:4] - shift).long()
    col, row = cell[:, 0].clamp(0, nx - 1), cell[:, 1].clamp(0, ny - 1)
    box = torch.cat([t[:, 2:4] - torch.stack([col, row], 1).to(t.dtype), t[:, 4:6]], 1)
    return Assignment(t[:, 0].long(), anchor_ids, row, col, box, t[:, 1].long())


class YoloV5Loss:
    """Total loss (scaled by batch size, as YOLOv5 does) and its parts for logging."""

    def __init__(self, anchors: torch.Tensor, strides: tuple[int, ...], nc: int, nm: int = 0,
                 weights: LossWeights = LossWeights(), imgsz: int = 640) -> None:
        self.anchors = anchors.detach().float().cpu()  # (nl, na, 2) grid units
        self.strides, self.nc, self.nm, self.w = strides, nc, nm, weights
        nl = len(strides)
        self.box_gain = weights.box * 3 / nl
        self.cls_gain = weights.cls * nc / 80 * 3 / nl
        self.obj_gain = weights.obj * (imgsz / 640) ** 2 * 3 / nl
        self.bce = nn.BCEWithLogitsLoss()

    def __call__(self, preds: list[torch.Tensor], targets: torch.Tensor,
                 teacher: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        box_loss = torch.zeros(())
        obj_loss = torch.zeros(())
        cls_loss = torch.zeros(())
        distill = torch.zeros(())
        positives = 0
        for level, p in enumerate(preds):
            ny, nx = p.shape[2:4]
            a = assign(targets, self.anchors[level], self.strides[level], (ny, nx), self.w.anchor_ratio)
            tobj = torch.zeros(p.shape[:4], dtype=p.dtype)
            if len(a):
                positives += len(a)
                ps = p[a.image, a.anchor, a.row, a.col]
                xy = ps[:, 0:2].sigmoid() * 2 - 0.5
                wh = (ps[:, 2:4].sigmoid() * 2) ** 2 * self.anchors[level][a.anchor]
                ciou = box_ciou(torch.cat([xy, wh], 1), a.box)
                box_loss = box_loss + (1.0 - ciou).mean()
                tobj[a.image, a.anchor, a.row, a.col] = ciou.detach().clamp(min=0).to(p.dtype)
                onehot = torch.zeros(len(a), self.nc, dtype=p.dtype)
                onehot[torch.arange(len(a)), a.cls] = 1.0
                cls_loss = cls_loss + self.bce(ps[:, 5:5 + self.nc], onehot)
                if teacher is not None and self.nm:
                    ref = teacher[level][a.image, a.anchor, a.row, a.col, 5 + self.nc:]
                    distill = distill + (ps[:, 5 + self.nc:] - ref).pow(2).mean()
            obj_loss = obj_loss + self.bce(p[..., 4], tobj) * LEVEL_BALANCE[level]
        batch = preds[0].shape[0]
        parts = {"box": box_loss * self.box_gain, "obj": obj_loss * self.obj_gain,
                 "cls": cls_loss * self.cls_gain, "distill": distill * self.w.distill * self.box_gain}
        total = sum(parts.values()) * batch
        return total, {k: float(v.detach()) for k, v in parts.items()} | {"positives": float(positives)}
