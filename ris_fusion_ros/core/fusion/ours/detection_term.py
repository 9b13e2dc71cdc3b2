"""Detection-driven fine-tuning of RisFuseNet: a frozen detector looks at the fused frame and its
training loss against pseudo-labels flows back into the fusion network (the RIS-FUSION claim that
fusion should make the objects easier to find; TarDAL, Liu et al. CVPR 2022, trains fusion against a
detector the same way).

Frames come from the fusion training sets only (RoadScene minus its test pairs, LLVIP train, M3FD):
never MSRS. Their labels are pseudo-labels: the COCO detector run on the visible and on the infrared
image, united with class-aware NMS, confident boxes only. Half of the frames also carry the feedback
control map (the boxes, dilated, times a random strength), so the control the referring node feeds
back is trained to keep the object detectable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ...color import split_luma
from ...detection.finetune.loss import YoloV5Loss
from ...detection.finetune.samples import Sample, box_targets, place
from ...detection.nms import nms
from ...detection.yolov5 import STRIDES, build_yolov5

PSEUDO_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
PSEUDO_CONF = 0.4
FEEDBACK_DILATE_PX = 4


@dataclass
class DetectionFrame:
    """A pair placed on the detector's canvas: infrared, visible (RGB) and its pseudo-boxes."""

    name: str
    ir: np.ndarray  # HxW uint8
    vis: np.ndarray  # HxWx3 uint8 RGB
    boxes: np.ndarray  # (N, 5) detector class id, x1, y1, x2, y2
    ycrcb: np.ndarray = field(init=False, repr=False)  # the visible image's planes, computed once

    def __post_init__(self) -> None:
        self.ycrcb = split_luma(np.ascontiguousarray(self.vis))[1]


def pseudo_labels(ir: np.ndarray, vis: np.ndarray, detect, class_ids: Sequence[int],
                  conf: float = PSEUDO_CONF) -> np.ndarray:
    """(N, 5) boxes: detections on the visible and on the infrared image, united (class-aware NMS 0.5)."""
    found = [d for image in (vis, np.repeat(ir[..., None], 3, axis=2)) for d in detect(image)
             if d.class_id in class_ids and d.score >= conf]
    if not found:
        return np.zeros((0, 5), np.float32)
    boxes = np.array([d.box for d in found], np.float32)
    scores = np.array([d.score for d in found], np.float32)
    classes = np.array([d.class_id for d in found])
    keep = nms(boxes, scores, 0.5, classes, 300)
    return np.concatenate([classes[keep, None].astype(np.float32), boxes[keep]], axis=1)


def build_frames(pairs, detect, class_ids: Sequence[int], canvas: tuple[int, int]) -> list[DetectionFrame]:
    """Pseudo-label every (name, ir, vis) and letterbox it onto ``canvas`` once."""
    frames = []
    for name, ir, vis in pairs:
        boxes = pseudo_labels(ir, vis, detect, class_ids)
        placed_vis, placed_boxes = place(Sample(name, vis, boxes), canvas, None, None)
        placed_ir, _ = place(Sample(name, np.repeat(ir[..., None], 3, 2), boxes[:0]), canvas, None, None)
        frames.append(DetectionFrame(name, placed_ir[..., 0].copy(), placed_vis, placed_boxes))
    return frames


def feedback_map(boxes: np.ndarray, shape: tuple[int, int], strength: float) -> np.ndarray:
    """The control the feedback loop sends: the boxes, dilated, times ``strength`` (float32 HxW)."""
    control = np.zeros(shape, np.float32)
    h, w = shape
    for _, x1, y1, x2, y2 in boxes:
        d = FEEDBACK_DILATE_PX
        control[max(0, int(y1) - d):min(h, int(np.ceil(y2)) + d), max(0, int(x1) - d):min(w, int(np.ceil(x2)) + d)] = 1
    return cv2.GaussianBlur(control, (0, 0), 2.0) * np.float32(strength)


def sample_detection_batch(frames: Sequence[DetectionFrame], rng: np.random.Generator, batch: int,
                           feedback_probability: float = 0.5) -> dict[str, torch.Tensor]:
    """Frames (flipped at random) with their luma/chroma planes, control maps and YOLO targets."""
    planes, irs, controls, boxes_list = [], [], [], []
    for index in rng.integers(0, len(frames), batch):
        frame = frames[int(index)]
        ycrcb, ir, boxes = frame.ycrcb, frame.ir, frame.boxes.copy()
        if rng.random() < 0.5:
            ycrcb, ir = ycrcb[:, ::-1], ir[:, ::-1]
            if len(boxes):
                boxes[:, [1, 3]] = ir.shape[1] - boxes[:, [3, 1]]
        strength = float(rng.uniform(0.25, 1.0)) if len(boxes) and rng.random() < feedback_probability else 0.0
        controls.append(feedback_map(boxes, ir.shape, strength))
        planes.append(ycrcb)
        irs.append(ir)
        boxes_list.append(boxes)
    ycrcb = np.stack(planes).transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # (B, 3, H, W): Y, Cr, Cb
    return {"ir": torch.from_numpy(np.stack(irs)[:, None].astype(np.float32) / 255.0),
            "vis": torch.from_numpy(ycrcb[:, 0:1].copy()), "cr": torch.from_numpy(ycrcb[:, 1:2].copy()),
            "cb": torch.from_numpy(ycrcb[:, 2:3].copy()), "control": torch.from_numpy(np.stack(controls)[:, None]),
            "targets": box_targets(boxes_list)}


def ycrcb_to_rgb(y: torch.Tensor, cr: torch.Tensor, cb: torch.Tensor) -> torch.Tensor:
    """Full-range BT.601, as OpenCV's 8-bit YCrCb (chroma centred on 0.5): (N,3,H,W) RGB in [0, 1]."""
    r = y + 1.403 * (cr - 0.5)
    g = y - 0.714 * (cr - 0.5) - 0.344 * (cb - 0.5)
    b = y + 1.773 * (cb - 0.5)
    return torch.cat([r, g, b], 1).clamp(0, 1)


class DetectionTerm:
    """YOLO loss of a frozen YOLOv5n on the fused RGB frame; gradients reach only the fusion network."""

    def __init__(self, weights: Path, imgsz: int) -> None:
        self.model = build_yolov5(weights)
        for p in self.model.parameters():
            p.requires_grad_(False)
        head = self.model.model[24]
        self.loss = YoloV5Loss(head.anchors, STRIDES, head.nc, 0, imgsz=imgsz)

    def __call__(self, fused_y: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        rgb = ycrcb_to_rgb(fused_y, batch["cr"], batch["cb"])
        preds = self.model.model[24].raw(self.model.neck(*self.model.backbone(rgb)))
        preds = [p[..., : 5 + self.loss.nc] for p in preds]  # a segmentation model's coefficients are not used
        loss, _ = self.loss(preds, batch["targets"])
        return loss / fused_y.shape[0]
