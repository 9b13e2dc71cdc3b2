"""Detection core without the shared weights: letterbox, NMS, layout recognition, decoding, masks,
and tiny ONNX models with the YOLOv5, YOLOv8/YOLO11 (detect + segment) and YOLOX output layouts."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.core.detection import create_detector
from ris_fusion_ros.core.detection.classes import parse_names
from ris_fusion_ros.core.detection.decode import Layout, candidates, grid_cells, resolve_layout
from ris_fusion_ros.core.detection.letterbox import LetterboxSpec, as_rgb, letterbox
from ris_fusion_ros.core.detection.masks import input_frame_masks
from ris_fusion_ros.core.detection.nms import box_iou, nms
from ris_fusion_ros.core.errors import ConfigError, DataError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


# ------------------------------------------------------------------------------------------------
# letterbox
# ------------------------------------------------------------------------------------------------

def test_letterbox_centred_square_pads_evenly_with_114():
    image = np.full((480, 640, 3), 7, np.uint8)
    out, box = letterbox(image, LetterboxSpec((640, 640)))
    assert out.shape == (640, 640, 3)
    assert box.ratio == 1.0 and box.pad == (0.0, 80.0) and box.offset == (0, 80)
    assert (out[:80] == 114).all() and (out[560:] == 114).all() and (out[80:560] == 7).all()


def test_letterbox_rect_pads_to_stride_only_and_maps_boxes_back():
    image = np.zeros((470, 620, 3), np.uint8)
    out, box = letterbox(image, LetterboxSpec((640, 640), auto=True))
    # r = 640/620: 620x470 -> 640x485, padded to 640x512 (the next multiple of 32), 13/14 rows around it
    assert box.resized == (640, 485) and out.shape[:2] == (512, 640) and box.offset == (0, 13)
    back = box.boxes_to_original(np.array([[box.pad[0], box.pad[1], box.pad[0] + 620 * box.ratio,
                                            box.pad[1] + 470 * box.ratio]]))
    np.testing.assert_allclose(back, [[0, 0, 620, 470]], atol=1e-6)


def test_letterbox_top_left_yolox_convention():
    image = np.full((480, 640, 3), 9, np.uint8)
    out, box = letterbox(image, LetterboxSpec((416, 416), center=False))
    assert box.ratio == pytest.approx(0.65) and box.resized == (416, 312) and box.offset == (0, 0)
    assert (out[312:] == 114).all() and (out[:312] == 9).all()
    np.testing.assert_allclose(box.boxes_to_original(np.array([[65.0, 13.0, 130.0, 26.0]])), [[100, 20, 200, 40]])


def test_as_rgb_replicates_gray_and_rejects_bad_input():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = as_rgb(gray)
    assert rgb.shape == (3, 4, 3) and (rgb[..., 0] == gray).all() and (rgb[..., 2] == gray).all()
    with pytest.raises(DataError, match="uint8"):
        as_rgb(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(DataError, match="shape"):
        as_rgb(np.zeros((4, 4, 4), np.uint8))


# ------------------------------------------------------------------------------------------------
# NMS
# ------------------------------------------------------------------------------------------------

def _nms_oracle(boxes, scores, thr, classes=None):
    """Plain-Python greedy NMS, box by box."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        ok = True
        for j in keep:
            same = classes is None or classes[i] == classes[j]
            if same and box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_matches_a_plain_python_oracle(seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (150, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (150, 2))], 1)
    scores = rng.uniform(0, 1, 150)
    classes = rng.integers(0, 3, 150)
    assert nms(boxes, scores, 0.45).tolist() == _nms_oracle(boxes, scores, 0.45)
    assert nms(boxes, scores, 0.45, classes).tolist() == _nms_oracle(boxes, scores, 0.45, classes)
    assert len(nms(boxes, scores, 0.45, max_det=5)) == 5


def test_nms_class_aware_keeps_overlapping_boxes_of_other_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [-5, -5, 4, 4.0]])
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.45).tolist() == [0, 2]
    assert nms(boxes, scores, 0.45, np.array([0, 1, 0])).tolist() == [0, 1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


# ------------------------------------------------------------------------------------------------
# layout recognition and decoding
# ------------------------------------------------------------------------------------------------

def test_resolve_layout_from_shapes():
    hw = (640, 640)
    cells = grid_cells(hw)
    assert cells == 8400
    assert resolve_layout([(1, 25200, 85)], hw) == Layout("yolov5", 80)
    assert resolve_layout([(1, 25200, 117), (1, 32, 160, 160)], hw) == Layout("yolov5", 80, 32, 0, 1)
    assert resolve_layout([(1, 84, 8400)], hw) == Layout("yolov8", 80)
    assert resolve_layout([(1, 116, 8400), (1, 32, 160, 160)], hw) == Layout("yolov8", 80, 32, 0, 1)
    assert resolve_layout([(1, 32, 160, 160), (1, 38, 8400)], hw) == Layout("yolov8", 2, 32, 1, 0)
    assert resolve_layout([(1, 3549, 85)], (416, 416)) == Layout("yolox", 80)
    assert resolve_layout([(1, 18900, 85)], (480, 640)).kind == "yolov5"
    assert resolve_layout([(1, 100, 84)], (64, 64)) == Layout("yolov8", 96)  # more channels than rows
    with pytest.raises(ConfigError, match="cannot recognise"):
        resolve_layout([(1, 300, 6)], hw)
    with pytest.raises(ConfigError, match="unsupported"):
        resolve_layout([(1, 84, 8400), (1, 84, 8400)], hw)
    with pytest.raises(ConfigError, match="unknown detector layout"):
        resolve_layout([(1, 84, 8400)], hw, "ssd")


def test_yolov5_decode_scores_are_obj_times_class_and_coefficients_optionally_scaled():
    rows = np.zeros((1, 4, 5 + 2 + 3), np.float32)
    rows[0, 0, :7] = [50, 60, 20, 10, 0.8, 0.5, 0.9]  # obj 0.8 x 0.9 = 0.72, class 1
    rows[0, 0, 7:] = [1, 2, 3]
    rows[0, 1, :7] = [10, 10, 4, 4, 0.9, 0.2, 0.1]  # 0.18: below 0.25
    rows[0, 2, :7] = [10, 10, 4, 4, 0.2, 1.0, 1.0]  # obj below threshold
    cand = candidates([rows], Layout("yolov5", 2, 3), (64, 64), 0.25, coeff_times_obj=True)
    assert cand.class_ids.tolist() == [1]
    np.testing.assert_allclose(cand.scores, [0.72], rtol=1e-6)
    np.testing.assert_allclose(cand.boxes, [[40, 55, 60, 65]])
    np.testing.assert_allclose(cand.coeffs, [[0.8, 1.6, 2.4]], rtol=1e-6)
    assert candidates([rows], Layout("yolov5", 2, 3), (64, 64), 0.25, classes=[0]).boxes.shape == (0, 4)


def test_yolox_decode_uses_grid_and_exp_sizes():
    hw = (64, 64)
    rows = np.zeros((1, grid_cells(hw), 6), np.float32)
    # stride-16 level starts after the 8x8 stride-8 cells; cell (gx=2, gy=1) of the 4x4 grid
    index = 64 + 1 * 4 + 2
    rows[0, index] = [0.5, 0.25, np.log(2.0), 0.0, 0.9, 0.5]
    cand = candidates([rows], Layout("yolox", 1), hw, 0.25)
    np.testing.assert_allclose(cand.boxes, [[(2.5 - 1) * 16, (1.25 - 0.5) * 16, (2.5 + 1) * 16, (1.25 + 0.5) * 16]])
    np.testing.assert_allclose(cand.scores, [0.45])


def test_parse_names_reads_ultralytics_dicts_and_lists():
    assert parse_names("{0: 'person', 1: 'car'}") == ["person", "car"]
    assert parse_names("['a', 'b']") == ["a", "b"]
    with pytest.raises(ConfigError):
        parse_names("{0: 'a', 2: 'b'}")
    with pytest.raises(ConfigError):
        parse_names("not python")


def test_prototype_masks_crop_and_upsample_exactly_on_aligned_boxes():
    protos = np.zeros((2, 16, 16), np.float32)
    protos[0] = 1.0
    protos[1, :, :8] = 1.0
    protos[1, :, 8:] = -1.0
    coeffs = np.array([[12.0, 0.0], [0.0, 12.0]], np.float32)
    boxes = np.array([[8, 16, 24, 40], [16, 8, 48, 24]], np.float32)
    masks = input_frame_masks(protos, coeffs, boxes, (64, 64))
    expected0 = np.zeros((64, 64), bool)
    expected0[16:40, 8:24] = True
    expected1 = np.zeros((64, 64), bool)
    expected1[8:24, 16:32] = True  # the box, cut to the left half where prototype 1 is positive
    _assert_rectangle_mask(masks[0], expected0)
    _assert_rectangle_mask(masks[1], expected1)


def _assert_rectangle_mask(mask: np.ndarray, expected: np.ndarray) -> None:
    """Nothing outside the rectangle, everything inside it but the four corner pixels (bilinear
    interpolation of a 0/1 step gives 0.39 there)."""
    assert mask.shape == expected.shape and not (mask & ~expected).any()
    assert (expected & ~mask).sum() == 4


# ------------------------------------------------------------------------------------------------
# tiny ONNX models with planted outputs, one per layout
# ------------------------------------------------------------------------------------------------

def _constant_model(path, outputs: dict[str, np.ndarray], size=64, names: str | None = None):
    """An ONNX model [1, 3, size, size] -> the given constants (tied to the input so it is used)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"])]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    graph_outputs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_const"))
        nodes.append(helper.make_node("Add", [f"{name}_const", "z"], [name]))
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "planted", [helper.make_tensor_value_info(
        "images", TensorProto.FLOAT, [1, 3, size, size])], graph_outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if names is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "names", names
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


CELLS64 = grid_cells((64, 64))  # 84


def _yolov8_prediction(nc: int, nm: int = 0) -> np.ndarray:
    """[1, 4+nc+nm, 84]: a car at (8,16)-(24,40) 0.9, a near-duplicate 0.8, a person 0.6, noise 0.1."""
    pred = np.zeros((1, 4 + nc + nm, CELLS64), np.float32)
    planted = [(5, (16, 28, 16, 24), 1, 0.9), (6, (17, 28, 16, 24), 1, 0.8), (40, (40, 36, 16, 24), 0, 0.6),
               (70, (30, 30, 10, 10), 0, 0.1)]
    for index, box, cls, score in planted:
        pred[0, :4, index] = box
        pred[0, 4 + cls, index] = score
    if nm:
        pred[0, 4 + nc + 0, [5, 6]] = 12.0  # car: prototype 0 (everywhere positive)
        pred[0, 4 + nc + 1, 40] = 12.0  # person: prototype 1 (positive left of prototype column 10)
    return pred


def test_ultralytics_detection_layout_with_names_from_metadata(tmp_path):
    path = _constant_model(tmp_path / "v8.onnx", {"output0": _yolov8_prediction(2)},
                           names="{0: 'person', 1: 'car'}")
    detector = create_detector(path)
    assert detector.layout.kind == "yolov8" and detector.class_names == ["person", "car"]
    dets = detector.detect(np.zeros((64, 64, 3), np.uint8))
    assert [(d.class_name, round(d.score, 3)) for d in dets] == [("car", 0.9), ("person", 0.6)]
    np.testing.assert_allclose(dets[0].box, (8, 16, 24, 40), atol=1e-4)
    np.testing.assert_allclose(dets[1].box, (32, 24, 48, 48), atol=1e-4)
    assert all(d.mask is None for d in dets)
    # a 128x96 frame is scaled by 0.5 and padded by 8 rows on top: boxes come back in its pixels
    dets = detector.detect(np.zeros((96, 128), np.uint8))
    np.testing.assert_allclose(dets[0].box, (16, 16, 48, 64), atol=1e-4)
    assert len(detector.detect(np.zeros((64, 64, 3), np.uint8), conf=0.7)) == 1
    info = detector.info()
    assert info["layout"] == "yolov8" and info["backend"] == "onnxruntime" and info["input_size"] == "64x64"


def test_ultralytics_segmentation_layout_builds_masks(tmp_path):
    protos = np.zeros((1, 32, 16, 16), np.float32)
    protos[0, 0] = 1.0
    protos[0, 1, :, :10] = 1.0
    protos[0, 1, :, 10:] = -1.0
    path = _constant_model(tmp_path / "v8seg.onnx", {"output0": _yolov8_prediction(2, 32), "output1": protos})
    detector = create_detector(path)
    assert detector.layout == Layout("yolov8", 2, 32, 0, 1) and detector.segmentation
    assert detector.class_names == ["class0", "class1"]  # no metadata: generic names
    dets = detector.detect(np.zeros((64, 64, 3), np.uint8))
    assert [d.class_id for d in dets] == [1, 0]
    car = np.zeros((64, 64), bool)
    car[16:40, 8:24] = True
    person = np.zeros((64, 64), bool)
    person[24:48, 32:40] = True  # box (32,24)-(48,48) cut at prototype column 10 = pixel 40
    _assert_rectangle_mask(dets[0].mask, car)
    _assert_rectangle_mask(dets[1].mask, person)


def test_yolov5_and_yolox_layouts_are_recognised_from_row_counts(tmp_path):
    v5 = np.zeros((1, 3 * CELLS64, 5 + 3), np.float32)
    v5[0, 100] = [32, 32, 20, 20, 0.9, 0.1, 0.2, 0.95]
    detector = create_detector(_constant_model(tmp_path / "v5.onnx", {"out": v5}))
    assert detector.layout.kind == "yolov5"
    dets = detector.detect(np.zeros((64, 64, 3), np.uint8))
    assert len(dets) == 1 and dets[0].class_id == 2 and dets[0].score == pytest.approx(0.855)
    yx = np.zeros((1, CELLS64, 5 + 80), np.float32)
    yx[0, 64 + 5, :4] = [0.5, 0.5, 0.0, 0.0]  # stride 16, gx=1, gy=1 -> centre (24, 24), 16x16
    yx[0, 64 + 5, 4] = 0.8
    yx[0, 64 + 5, 5 + 2] = 0.9
    detector = create_detector(_constant_model(tmp_path / "yolox.onnx", {"output": yx}))
    assert detector.layout.kind == "yolox" and detector.class_names[2] == "car"
    dets = detector.detect(np.zeros((64, 64, 3), np.uint8))
    assert [d.class_name for d in dets] == ["car"]
    np.testing.assert_allclose(dets[0].box, (16, 16, 32, 32), atol=1e-4)


def test_metadata_imgsz_reads_ultralytics_and_plain_forms_and_names_bad_ones():
    from pathlib import Path

    from ris_fusion_ros.core.detection.detector import metadata_imgsz

    assert metadata_imgsz("[480, 640]", Path("m.onnx")) == (480, 640)
    assert metadata_imgsz("800", Path("m.onnx")) == (800, 800)
    for bad in ("[500, 640]", "big", "[1, 2, 3]", "None"):
        with pytest.raises(ConfigError, match=r"m\.onnx: metadata imgsz"):
            metadata_imgsz(bad, Path("m.onnx"))


def test_bad_names_options_and_files_are_clear_errors(tmp_path):
    path = _constant_model(tmp_path / "v8.onnx", {"output0": _yolov8_prediction(2)})
    with pytest.raises(ConfigError, match="unknown detector option"):
        create_detector(path, confidence=0.3)
    with pytest.raises(ConfigError, match="2 classes"):
        create_detector(path, names=["a", "b", "c"])
    with pytest.raises(ConfigError, match="rect letterbox"):
        create_detector(path, rect=True)
    with pytest.raises(ConfigError, match="not found"):
        create_detector(str(tmp_path / "missing.onnx"))
    with pytest.raises(ConfigError, match="unknown detector 'ssd'"):
        create_detector("ssd")
    with pytest.raises(ConfigError, match="threshold"):
        create_detector(path, conf=1.5)
