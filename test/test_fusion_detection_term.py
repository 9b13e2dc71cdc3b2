"""The detection-driven fusion term: pseudo-labels from both images, the chroma round trip the frozen
detector sees, the feedback control map, and gradients that reach the fusion output only."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ris_fusion_ros.core.detection.types import Detection  # noqa: E402
from ris_fusion_ros.core.fusion.ours.detection_term import (  # noqa: E402
    DetectionFrame,
    DetectionTerm,
    feedback_map,
    pseudo_labels,
    sample_detection_batch,
    ycrcb_to_rgb,
)


def test_pseudo_labels_unite_visible_and_infrared_detections_and_drop_weak_or_other_classes():
    ir = np.zeros((40, 40), np.uint8)
    vis = np.full((40, 40, 3), 255, np.uint8)

    def detect(image):
        if image[0, 0, 0] == 255:  # the visible image: a car and a weak person
            return [Detection((1, 1, 10, 10), 0.9, 2, "car"), Detection((20, 20, 30, 30), 0.2, 0, "person")]
        return [Detection((1, 1, 10.5, 10), 0.8, 2, "car"), Detection((20, 20, 30, 30), 0.7, 0, "person"),
                Detection((0, 0, 5, 5), 0.9, 16, "dog")]

    boxes = pseudo_labels(ir, vis, detect, class_ids=[0, 2])
    assert sorted(boxes[:, 0].tolist()) == [0, 2]  # the duplicate car merged, the dog and the weak box gone
    assert boxes[boxes[:, 0] == 2][0, 1:].tolist() == [1, 1, 10, 10]  # the stronger of the two cars


def test_chroma_round_trip_matches_opencv():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32) / 255
    planes = [torch.from_numpy(ycrcb[None, None, :, :, i].copy()) for i in range(3)]
    back = ycrcb_to_rgb(*planes)[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(back - rgb).max() < 2.5


def test_feedback_map_covers_the_dilated_boxes_only():
    control = feedback_map(np.array([[0, 20, 20, 30, 40]], np.float32), (64, 64), 0.5)
    assert control[30, 25] == pytest.approx(0.5, abs=1e-3)
    assert control[:8].max() == 0 and control[:, 45:].max() == 0 and control[55:].max() == 0


def test_the_frozen_detector_passes_gradients_to_the_fused_frame_only(shared_root):
    weights = shared_root / "weights" / "detectors" / "yolov5n_coco.pt"
    rng = np.random.default_rng(0)
    vis = np.full((64, 64, 3), 60, np.uint8)
    vis[16:48, 24:40] = 200
    frame = DetectionFrame("f", np.full((64, 64), 90, np.uint8), vis, np.array([[0, 24, 16, 40, 48]], np.float32))
    batch = sample_detection_batch([frame], rng, batch=2, feedback_probability=1.0)
    assert batch["control"].amax() > 0.2 and batch["targets"].shape == (2, 6)
    term = DetectionTerm(weights, imgsz=64)
    fused = batch["vis"].clone().requires_grad_(True)
    loss = term(fused, batch)
    loss.backward()
    assert loss.item() > 0 and fused.grad.abs().sum() > 0
    assert all(p.grad is None for p in term.model.parameters())
