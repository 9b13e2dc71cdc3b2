"""Parity of our YOLOv5n, YOLOv5n-seg and YOLOX-Nano pipelines with the original implementations.

``<shared>/weights/detectors/reference_predictions.json`` holds what the upstream code produced
on 8 MSRS images (4 pairs x visible/infrared). Our detectors must give the same number of
detections with the same classes, boxes within 1 px, scores within 0.01 and, for the
segmentation model, the same mask pixel counts and masks with IoU >= 0.95 against an
independent PyTorch mask assembly. Skips when the shared weights are absent.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ris_fusion_ros.core.data.images import read_visible
from ris_fusion_ros.core.detection import create_detector
from ris_fusion_ros.core.detection.masks import input_frame_masks
from ris_fusion_ros.core.detection.nms import box_iou
from ris_fusion_ros.core.fusion import RuntimeOptions

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def reference(shared_root):
    path = shared_root / "weights" / "detectors" / "reference_predictions.json"
    if not path.is_file():
        pytest.skip(f"reference detections not available: {path}")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def images(reference, shared_root):
    files = {img["file"] for model in ("yolov5n", "yolov5n_seg", "yolox_nano") for img in reference[model]["images"]}
    return {f: read_visible(shared_root / f) for f in files}  # ir files decode to 3 equal channels


@pytest.fixture(scope="module")
def detectors(shared_root):
    shared = str(shared_root)
    return {"square640": create_detector("yolov5n", shared=shared, rect=False),
            "rect640": create_detector("yolov5n", shared=shared, rect=True),
            "seg": create_detector("yolov5n-seg", shared=shared, rect=False),
            "yolox": create_detector("yolox-nano", shared=shared, conf=0.1, agnostic=True)}


def assert_same_detections(ours, ref, label, width=640, height=480):
    """One-to-one match by class and IoU; boxes within 1 px, scores within 0.01."""
    assert len(ours) == len(ref), f"{label}: {len(ours)} detections, reference {len(ref)}"
    boxes = np.array([d.box for d in ours]).reshape(-1, 4)
    used: set[int] = set()
    for r in ref:
        ref_box = np.clip(np.array(r["xyxy"]), 0, [width, height, width, height])  # YOLOX's demo does not clip
        iou = box_iou(ref_box[None], boxes)[0]
        iou[[i for i, d in enumerate(ours) if d.class_id != r["class_id"] or i in used]] = -1
        j = int(np.argmax(iou))
        assert iou[j] > 0, f"{label}: no {r['class_name']} matching {r['xyxy']}"
        used.add(j)
        assert ours[j].class_name == r["class_name"]
        np.testing.assert_allclose(ours[j].box, ref_box, atol=1.0, err_msg=label)
        assert ours[j].score == pytest.approx(r["score"], abs=0.01), label


@pytest.mark.parametrize("run", ["square640", "rect640"])
def test_yolov5n_matches_reference(reference, images, detectors, run):
    detector = detectors[run]
    for img in reference["yolov5n"]["images"]:
        expected = img["runs"][run]
        label = f"{img['id']} {img['modality']} {run}"
        pred = detector.predict(images[img["file"]])
        assert list(pred.letterbox.input_hw) == expected["input_shape"][2:], label
        assert pred.letterbox.pad == tuple(expected["pad_wh"]), label
        assert_same_detections(detector.detect(images[img["file"]]), expected["detections"], label)


def test_yolov5n_raw_rows_match_reference(reference, images, detectors):
    detector = detectors["square640"]
    from ris_fusion_ros.core.detection.letterbox import letterbox, to_tensor

    for img in reference["yolov5n"]["images"]:
        raw = img["runs"]["square640"]["raw"]
        padded, _ = letterbox(images[img["file"]], detector._spec())
        out = detector.backend.run({"images": to_tensor(padded)})[0]
        assert list(out.shape) == raw["shape"]
        for index, row in raw["fixed_rows"].items():
            np.testing.assert_allclose(out[0, int(index)], row, rtol=2e-3, atol=2e-4)
        assert int((out[0, :, 4] > 0.25).sum()) == raw["n_obj_gt_conf"]
        assert out[0, :, 4].sum() == pytest.approx(raw["sum_obj"], rel=1e-4)


def _torch_masks(protos, coeffs, boxes, size=640):
    """Independent mask assembly in PyTorch (matmul, sigmoid, crop on the 160 grid, bilinear up)."""
    p = torch.from_numpy(protos).float()
    c = torch.from_numpy(np.asarray(coeffs)).float()
    nm, ph, pw = p.shape
    if len(c) == 0:
        return np.zeros((0, size, size), bool)
    m = (c @ p.view(nm, -1)).sigmoid().view(-1, ph, pw)
    b = torch.from_numpy(np.asarray(boxes)).float() * (pw / size)
    xs = torch.arange(pw)[None, None, :]
    ys = torch.arange(ph)[None, :, None]
    keep = (xs >= b[:, 0, None, None]) & (xs < b[:, 2, None, None]) & (ys >= b[:, 1, None, None]) & (
        ys < b[:, 3, None, None])
    m = m * keep
    up = torch.nn.functional.interpolate(m[None], (size, size), mode="bilinear", align_corners=False)[0]
    return (up > 0.5).numpy()


def test_yolov5n_seg_matches_reference_masks(reference, images, detectors):
    detector = detectors["seg"]
    for img in reference["yolov5n_seg"]["images"]:
        label = f"{img['id']} {img['modality']} seg"
        image = images[img["file"]]
        dets = detector.detect(image)
        assert_same_detections(dets, img["detections"], label)
        pred = detector.predict(image)
        ours = input_frame_masks(pred.protos, pred.candidates.coeffs, pred.candidates.boxes, (640, 640))
        oracle = _torch_masks(pred.protos, pred.candidates.coeffs, pred.candidates.boxes)
        by_box = {tuple(np.round(d.box, 1)): d for d in dets}
        for k, r in enumerate(img["detections"]):
            j = int(np.argmax(box_iou(np.array(r["xyxy"])[None], pred.letterbox.boxes_to_original(
                pred.candidates.boxes))[0]))
            assert ours[j].sum() == pytest.approx(r["mask_pixels_640x640"], rel=0.01, abs=3), f"{label} #{k}"
            inter, union = (ours[j] & oracle[j]).sum(), (ours[j] | oracle[j]).sum()
            assert inter / union >= 0.95, f"{label} #{k}: mask IoU {inter / union:.3f} against the torch oracle"
        for d in by_box.values():  # full-image masks: bool HxW, inside the box up to one prototype cell (4 px)
            assert d.mask.shape == image.shape[:2] and d.mask.dtype == bool
            ys, xs = np.nonzero(d.mask)
            if len(xs):
                assert xs.min() >= d.box[0] - 4 and xs.max() <= d.box[2] + 4
                assert ys.min() >= d.box[1] - 4 and ys.max() <= d.box[3] + 4


def test_yolox_nano_matches_reference(reference, images, detectors):
    detector = detectors["yolox"]
    from ris_fusion_ros.core.detection.letterbox import letterbox, to_tensor

    for img in reference["yolox_nano"]["images"]:
        label = f"{img['id']} {img['modality']} yolox"
        image = images[img["file"]]
        assert_same_detections(detector.detect(image), img["detections_score_ge_0.1"], label)
        padded, box = letterbox(image, detector._spec())
        assert box.ratio == pytest.approx(img["ratio"])
        raw = detector.backend.run({"images": to_tensor(padded, bgr=True, scale=1.0)})[0]
        np.testing.assert_allclose(raw[0, 0], img["raw_row0"], rtol=2e-3, atol=1e-5)
        assert raw[0, :, 4].max() == pytest.approx(img["raw_max_obj"], rel=1e-4)


def test_torch_backend_gives_the_onnx_detections(reference, images, detectors, shared_root):
    img = next(i for i in reference["yolov5n_seg"]["images"] if i["id"] == "00537D" and i["modality"] == "vi")
    image = images[img["file"]]
    for name, key in (("yolov5n", "square640"), ("yolov5n-seg", "seg")):
        eager = create_detector(name, RuntimeOptions(backend="torch", threads=2), shared=str(shared_root), rect=False)
        assert eager.info()["backend"] == "torch"
        a, b = eager.detect(image), detectors[key].detect(image)
        assert [d.class_id for d in a] == [d.class_id for d in b]
        np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=0.05)
        np.testing.assert_allclose([d.score for d in a], [d.score for d in b], atol=1e-4)
        for da, db in zip(a, b, strict=True):
            if da.mask is not None:
                assert (da.mask ^ db.mask).sum() <= 0.01 * max(1, db.mask.sum())
