"""Raw detector outputs -> scored candidate boxes, for the three output layouts in use.

* ``yolov5``: ``[1, N, 5 + nc (+ nm)]``, N = anchors x cells; boxes already decoded (cx, cy, w, h
  in input pixels), objectness and class probabilities sigmoid-ed, score = obj x class.
* ``yolov8``: Ultralytics YOLOv8 / YOLO11 ``[1, 4 + nc (+ nm), N]`` (channels first), decoded boxes,
  class probabilities, no objectness.
* ``yolox``: ``[1, N, 5 + nc]`` with one row per cell and *raw* boxes: cx = (o0 + gx)·s,
  w = exp(o2)·s (Ge et al., "YOLOX: Exceeding YOLO Series in 2021"); obj and classes sigmoid-ed.

Segmentation models add prototypes ``[1, nm, H/4, W/4]``; the layout is recognised from the
output shapes alone (:func:`resolve_layout`), a metadata or user hint may override it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ConfigError

LAYOUTS = ("yolov5", "yolov8", "yolox")
STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class Layout:
    """How to read a model's outputs: kind, class count, mask coefficient count, output positions."""

    kind: str
    nc: int
    nm: int = 0
    pred_index: int = 0
    proto_index: int | None = None


@dataclass
class Candidates:
    """Boxes that passed the confidence threshold, before NMS (boxes in model-input pixels)."""

    boxes: np.ndarray  # (K, 4) x1 y1 x2 y2
    scores: np.ndarray  # (K,)
    class_ids: np.ndarray  # (K,) int
    coeffs: np.ndarray | None = None  # (K, nm) mask coefficients

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(self.boxes[index], self.scores[index], self.class_ids[index],
                          None if self.coeffs is None else self.coeffs[index])


def grid_cells(input_hw: tuple[int, int], strides: Sequence[int] = STRIDES) -> int:
    """Number of grid cells over all levels for an input of (height, width)."""
    h, w = input_hw
    return sum(-(-h // s) * -(-w // s) for s in strides)


def resolve_layout(shapes: Sequence[Sequence[int]], input_hw: tuple[int, int], hint: str | None = None) -> Layout:
    """Pick the layout from the output shapes (batch 1) of a run at ``input_hw``.

    Channels-first predictions are YOLOv8/11; channels-last ones are YOLOX when there is one
    row per grid cell and YOLOv5 when there are several anchors per cell. A 4-D output is the
    prototype tensor of a segmentation model; its channel count is the number of coefficients.
    """
    if hint is not None and hint not in LAYOUTS:
        raise ConfigError(f"unknown detector layout '{hint}'; choose one of {', '.join(LAYOUTS)}")
    preds = [i for i, s in enumerate(shapes) if len(s) == 3]
    protos = [i for i, s in enumerate(shapes) if len(s) == 4]
    described = ", ".join(str(list(s)) for s in shapes)
    if len(preds) != 1 or len(protos) > 1 or len(shapes) != len(preds) + len(protos):
        raise ConfigError(f"unsupported detector outputs {described}: expected one [1, rows, values] prediction "
                          "tensor, plus a [1, nm, H/4, W/4] prototype tensor for segmentation models")
    p = preds[0]
    proto = protos[0] if protos else None
    nm = int(shapes[proto][1]) if proto is not None else 0
    _, a, b = (int(v) for v in shapes[p])
    cells = grid_cells(input_hw)
    kind = hint
    if kind is None:
        rows_first, rows_last = a % cells == 0, b % cells == 0
        if rows_first and rows_last:
            rows_first = a > b  # both fit: the longer axis holds the rows
        if rows_last and not rows_first:
            kind = "yolov8"
        elif rows_first and a == cells and proto is None:
            kind = "yolox"
        elif rows_first:
            kind = "yolov5"
        else:
            raise ConfigError(f"cannot recognise the detector output layout {described} for a "
                              f"{input_hw[1]}x{input_hw[0]} input ({cells} grid cells at strides 8/16/32); "
                              f"pass layout= one of {', '.join(LAYOUTS)}")
    values = a if kind == "yolov8" else b
    nc = values - (4 if kind == "yolov8" else 5) - nm
    if nc <= 0 or (kind == "yolox" and nm):
        raise ConfigError(f"detector outputs {described} do not fit the {kind} layout (class count {nc})")
    return Layout(kind, nc, nm, p, proto)


@lru_cache(maxsize=8)
def _yolox_grid(input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(cells, 2) grid offsets and (cells, 1) strides in YOLOX row order (level, gy, gx)."""
    grids, strides = [], []
    for s in STRIDES:
        ny, nx = -(-input_hw[0] // s), -(-input_hw[1] // s)
        gy, gx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        grids.append(np.stack([gx.ravel(), gy.ravel()], 1))
        strides.append(np.full((ny * nx, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def _xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    half = xywh[:, 2:4] / 2
    return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], 1)


def candidates(outputs: Sequence[np.ndarray], layout: Layout, input_hw: tuple[int, int], conf: float, *,
               coeff_times_obj: bool = False, classes: Sequence[int] | None = None) -> Candidates:
    """Rows whose best class score is above ``conf`` (one class per box).

    ``coeff_times_obj`` reproduces YOLOv5 v7.0, which hands coeff x obj to the mask step.
    """
    pred = np.asarray(outputs[layout.pred_index])
    if pred.ndim != 3 or pred.shape[0] != 1:
        raise ConfigError(f"detector prediction must have batch 1, got shape {list(pred.shape)}")
    nc, nm = layout.nc, layout.nm
    if layout.kind == "yolov8":
        chans = pred[0]  # (C, N): channels first, rows along the last axis
        cls = chans[4:4 + nc]
        best = cls.max(0)
        rows = np.nonzero(best > conf)[0]
        sel = chans[:, rows].T
        scores, class_ids = best[rows], cls[:, rows].argmax(0)
        boxes = _xywh_to_xyxy(sel[:, :4])
        coeffs = sel[:, 4 + nc:4 + nc + nm] if nm else None
    else:
        rows_all = pred[0]
        obj = rows_all[:, 4]
        rows = np.nonzero(obj > conf)[0]  # score = obj x cls <= obj: a cheap pre-filter
        sel = rows_all[rows]
        cls = sel[:, 5:5 + nc] * sel[:, 4:5]
        class_ids = cls.argmax(1)
        scores = cls[np.arange(len(sel)), class_ids]
        xywh = sel[:, :4]
        if layout.kind == "yolox":
            grid, stride = _yolox_grid(tuple(input_hw))
            if len(grid) != len(rows_all):
                raise ConfigError(f"YOLOX output has {len(rows_all)} rows but a {input_hw[1]}x{input_hw[0]} "
                                  f"input has {len(grid)} grid cells")
            xywh = np.concatenate([(xywh[:, :2] + grid[rows]) * stride[rows], np.exp(xywh[:, 2:4]) * stride[rows]], 1)
        boxes = _xywh_to_xyxy(xywh)
        coeffs = None
        if nm:
            coeffs = sel[:, 5 + nc:5 + nc + nm]
            if coeff_times_obj:
                coeffs = coeffs * sel[:, 4:5]
        keep = scores > conf
        boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
        coeffs = coeffs[keep] if coeffs is not None else None
    result = Candidates(boxes.astype(np.float32), scores.astype(np.float32), class_ids.astype(np.int64), coeffs)
    if classes is not None:
        result = result.take(np.isin(result.class_ids, np.asarray(list(classes), dtype=np.int64)))
    return result
