"""Detector fine-tuning: target assignment, CIoU, the training canvas matching the inference
letterbox, and a loss that actually falls when a small YOLOv5 fits one labelled frame."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ris_fusion_ros.core.detection.finetune.loss import YoloV5Loss, assign, box_ciou  # noqa: E402
from ris_fusion_ros.core.detection.finetune.samples import (  # noqa: E402
    Augment,
    Sample,
    balance_weights,
    collate,
    map_classes,
    place,
)
from ris_fusion_ros.core.detection.letterbox import LetterboxSpec, letterbox  # noqa: E402
from ris_fusion_ros.core.detection.yolov5 import STRIDES, build_modules  # noqa: E402
from ris_fusion_ros.core.errors import ConfigError  # noqa: E402


def test_ciou_is_one_for_equal_boxes_and_negative_for_distant_ones():
    a = torch.tensor([[10.0, 10.0, 4.0, 6.0]])
    assert box_ciou(a, a).item() == pytest.approx(1.0, abs=1e-5)
    far = torch.tensor([[30.0, 30.0, 4.0, 6.0]])
    assert box_ciou(a, far).item() < -0.5
    half = torch.tensor([[12.0, 10.0, 4.0, 6.0]])  # overlaps by half its width
    assert 0.0 < box_ciou(a, half).item() < 1 / 3 + 1e-6


def test_a_target_goes_to_its_cell_and_the_two_nearest_neighbours_for_fitting_anchors_only():
    anchors = torch.tensor([[1.0, 1.0], [2.0, 2.0], [20.0, 20.0]])  # grid units
    # one target, 16x16 px at stride 8 = 2x2 cells, centre (5.25, 6.75) cells: left and lower neighbours
    targets = torch.tensor([[0, 1, 5.25 * 8, 6.75 * 8, 16.0, 16.0]])
    a = assign(targets, anchors, 8, (10, 10), ratio=4.0)
    cells = {(int(k), int(r), int(c)) for k, r, c in zip(a.anchor, a.row, a.col, strict=True)}
    assert cells == {(k, r, c) for k in (0, 1) for r, c in ((6, 5), (6, 4), (7, 5))}  # anchor 2 is 10x too big
    assert set(a.cls.tolist()) == {1} and set(a.image.tolist()) == {0}
    own = [i for i in range(len(a)) if (int(a.row[i]), int(a.col[i])) == (6, 5)]
    assert torch.allclose(a.box[own[0]], torch.tensor([0.25, 0.75, 2.0, 2.0]))
    left = next(i for i in range(len(a)) if int(a.col[i]) == 4)
    assert a.box[left, 0].item() == pytest.approx(1.25)  # offsets up to 1.5 are reachable (2*sigmoid - 0.5)


def test_plain_placement_is_the_inference_letterbox_and_boxes_follow_flips():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    sample = Sample("x", image, np.array([[2, 10, 8, 30, 20]], np.float32))
    out, boxes = place(sample, (64, 64), rng, None)
    expected, box = letterbox(image, LetterboxSpec((64, 64)))
    assert np.array_equal(out, expected)
    assert np.allclose(box.boxes_to_original(boxes[:, 1:]), sample.boxes[:, 1:], atol=1e-4)
    flipped, fboxes = place(sample, (64, 64), rng, Augment(flip=1.0, plain_share=1.0))
    assert np.array_equal(flipped, expected[:, ::-1])
    assert np.allclose(fboxes[0, 1:], [64 - boxes[0, 3], boxes[0, 2], 64 - boxes[0, 1], boxes[0, 4]])


def test_a_sample_with_several_renderings_draws_each_of_them_and_plain_placement_uses_the_primary():
    rng = np.random.default_rng(2)
    images = [np.full((48, 64, 3), v, np.uint8) for v in (10, 100, 200)]
    sample = Sample("x", images[0], np.array([[0, 30, 10, 40, 20]], np.float32), tuple(images[1:]))
    drawn = [int(place(sample, (48, 64), rng, Augment(plain_share=1.0, flip=0.0))[0][24, 32, 0]) for _ in range(300)]
    counts = {v: drawn.count(v) for v in (10, 100, 200)}
    assert sum(counts.values()) == 300 and all(70 < c < 130 for c in counts.values()), counts
    out, _ = place(sample, (48, 64), None, None)  # no augmentation: always the primary rendering
    assert out[24, 32, 0] == 10


def test_build_samples_renders_every_input_and_refuses_mismatched_sizes(shared_root, tmp_path):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.detection.finetune.samples import build_samples
    from ris_fusion_ros.core.errors import ConfigError

    split = tmp_path / "split.txt"
    split.write_text("00008N\n")
    dataset = open_dataset("msrs", split=split, shared=shared_root)
    names = ["person", "bicycle", "car"]
    (sample,) = build_samples(dataset, [lambda pair: pair.vis, lambda pair: pair.ir], names)
    assert np.array_equal(sample.image, dataset.load(dataset.records[0]).vis)
    assert len(sample.alternatives) == 1 and sample.alternatives[0].shape == sample.image.shape  # gray -> RGB
    assert np.array_equal(sample.alternatives[0][..., 0], sample.alternatives[0][..., 2])
    with pytest.raises(ConfigError, match="differ in size"):
        build_samples(dataset, [lambda pair: pair.vis, lambda pair: pair.ir[:100]], names)


def test_build_samples_adds_the_objects_other_annotations_name_and_the_labels_lack(tmp_path):
    from PIL import Image

    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.detection.finetune.samples import build_samples
    from ris_fusion_ros.core.errors import ConfigError

    root = tmp_path / "pairs"
    for sub in ("ir", "vi", "labels/fusion", "labels/ir"):
        (root / sub).mkdir(parents=True)
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(root / "ir" / "a.png")
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(root / "vi" / "a.png")
    (root / "labels" / "classes.txt").write_text("0 person\n1 bicycle\n2 car\n")
    (root / "labels" / "fusion" / "a.txt").write_text("0 0.25 0.5 0.125 0.5\n")  # person at x 12-20
    # the same person (IoU >= 0.5) and a car at x 40-56 that the training labels lack
    (root / "labels" / "ir" / "a.txt").write_text("0 0.26 0.5 0.125 0.5\n2 0.75 0.5 0.25 0.25\n")
    dataset = open_dataset("msrs", data_root=root)
    names = ["person", "bicycle", "car"]
    (plain,) = build_samples(dataset, lambda pair: pair.vis, names)
    (sample,) = build_samples(dataset, lambda pair: pair.vis, names, extra_labels=[root / "labels" / "ir"])
    np.testing.assert_allclose(plain.boxes, [[0, 12, 12, 20, 36]])
    np.testing.assert_allclose(sample.boxes, [[0, 12, 12, 20, 36], [2, 40, 18, 56, 30]])
    with pytest.raises(ConfigError, match="not a folder"):
        build_samples(dataset, lambda pair: pair.vis, names, extra_labels=[root / "labels" / "vi"])


def test_jittered_boxes_stay_on_the_canvas_and_keep_their_pixels():
    rng = np.random.default_rng(1)
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:20, 30:40] = 255  # the object
    sample = Sample("x", image, np.array([[0, 30, 10, 40, 20]], np.float32))
    seen = 0
    for _ in range(30):
        out, boxes = place(sample, (64, 64), rng, Augment(plain_share=0.0, brightness=(1.0, 1.0)))
        for _, x1, y1, x2, y2 in boxes:
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
            inside = out[int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1]
            if inside.size:
                assert inside.mean() > 200
                seen += 1
    assert seen > 10


def test_class_mapping_by_name_and_missing_classes_named():
    boxes = np.array([[1, 0, 0, 5, 5], [0, 1, 1, 4, 4]], np.float64)
    mapped = map_classes(boxes, ["person", "car"], ["person", "bicycle", "car"])
    assert mapped[:, 0].tolist() == [2, 0]
    with pytest.raises(ConfigError, match="car"):
        map_classes(boxes, ["person", "car"], ["person"])


def test_loss_falls_when_a_small_yolov5_fits_one_frame():
    torch.manual_seed(0)
    model = build_modules()(nc=3)
    model.model[24].anchors.copy_(torch.tensor([[[1.25, 1.6], [2.0, 3.75], [4.1, 2.9]],
                                                [[1.9, 3.8], [3.9, 2.8], [3.7, 7.6]],
                                                [[3.6, 2.8], [4.9, 6.2], [11.6, 10.2]]]))
    image = np.full((64, 64, 3), 40, np.uint8)
    image[16:48, 24:40] = 220
    images, targets = collate([(image, np.array([[1, 24, 16, 40, 48]], np.float32))])
    head = model.model[24]
    loss_fn = YoloV5Loss(head.anchors, STRIDES, nc=3, imgsz=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(40):
        loss, parts = loss_fn(head.raw(model.neck(*model.backbone(images))), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert parts["positives"] > 0
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    with torch.no_grad():  # still batch statistics: 40 steps are too few for BatchNorm's running averages
        rows = model(images)[0]
    best = rows[rows[:, 4].argmax()]
    assert int(best[5:].argmax()) == 1  # the trained class
    assert abs(best[0].item() - 32) < 6 and abs(best[1].item() - 32) < 6


def test_finetuning_the_real_segmentation_model_keeps_frozen_parts_and_writes_a_loadable_checkpoint(
        shared_root, tmp_path):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.detection.finetune.samples import build_samples
    from ris_fusion_ros.core.detection.finetune.trainer import FinetuneConfig, finetune
    from ris_fusion_ros.core.detection.yolov5 import build_yolov5, class_names

    base = shared_root / "weights" / "detectors" / "yolov5n-seg_coco.pt"
    split = tmp_path / "split.txt"
    split.write_text("00008N\n00012N\n")
    dataset = open_dataset("msrs", split=split, shared=shared_root)
    samples = build_samples(dataset, lambda pair: np.maximum(pair.vis, pair.ir[..., None]),
                            class_names(base))
    assert [s.pair_id for s in samples] == ["00008N", "00012N"] and all(len(s.boxes) for s in samples)
    config = FinetuneConfig(epochs=1, batch=2, canvas=(320, 320), ema_ramp=0.5, warmup_epochs=0)
    out = finetune(base, samples, config, tmp_path / "d.pt", progress=False)
    tuned, original = build_yolov5(out).state_dict(), build_yolov5(base).state_dict()
    same = {k for k in original if torch.equal(tuned[k], original[k])}
    assert all(k in same for k in original if k.startswith(tuple(f"model.{i}." for i in range(10))))  # backbone
    assert all(k in same for k in original if k.startswith("model.24.proto."))  # prototypes: no mask labels
    assert any(k not in same for k in original if k.startswith("model.17."))  # the neck trained
    assert any(k not in same for k in original if k.startswith("model.24.m."))  # and the head
    assert out.with_suffix(".csv").read_text().startswith("epoch,")
    assert '"samples": 2' in out.with_suffix(".json").read_text()


def test_train_detector_command_mixes_inputs_and_caches_fused_frames(shared_root, tmp_path):
    import json

    from ris_fusion_ros.cli import main

    split = tmp_path / "split.txt"
    split.write_text("00008N\n")
    out, cache = tmp_path / "d.pt", tmp_path / "fused"
    args = ["--no-progress", "train", "detector", "--split", str(split), "--fusion", "average,infrared",
            "--fused-from", str(cache), "--epochs", "1", "--batch", "1", "--model", "yolov5n", "--imgsz", "320",
            "--paste", "0.5", "--balance", "1", "--out", str(out)]
    assert main(args) == 0
    assert (cache / "average" / "00008N.png").is_file() and not (cache / "infrared").exists()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["inputs"] == ["average", "infrared"] and meta["pair_ids"] == ["00008N"]
    assert meta["config"]["balance"] == 1.0 and meta["config"]["augment"]["paste"] == 0.5
    assert out.with_suffix(".onnx").is_file()
    import onnx

    props = {p.key: p.value for p in onnx.load(str(out.with_suffix(".onnx"))).metadata_props}
    assert props["finetuned_from"].startswith("yolov5n_coco.pt sha256 ")  # eval detect's report reads it
    assert props["imgsz"] == "[320, 320]" and meta["config"]["canvas"] == [320, 320]
    from ris_fusion_ros.core.detection import create_detector

    # fed at the size it was trained at unless told otherwise
    assert create_detector(str(out.with_suffix(".onnx"))).info()["input_size"].startswith("320x320 (rect")
    assert create_detector(str(out.with_suffix(".onnx")), imgsz=640).info()["input_size"].startswith("640x640")
    assert main([*args[:6], "average,average", *args[7:]]) == 2  # the same input twice
    assert main([*args[:-4], "--imgsz", "100", "--out", str(out)]) == 2  # not a multiple of 32
    assert main([*args[:-4], "--paste", "1.5", "--out", str(out)]) == 2  # not a share


def test_mosaic_puts_four_frames_around_the_centre_and_their_boxes_follow():
    """Each frame is one flat colour with one box; every box of the mosaic must sit on its own colour,
    inside the canvas, and the four corners must all be used."""
    from ris_fusion_ros.core.detection.finetune.samples import draw, mosaic

    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0)]
    samples = []
    for k, colour in enumerate(colours):
        image = np.full((48, 64, 3), colour, np.uint8)
        samples.append(Sample(f"s{k}", image, np.array([[k, 10, 10, 50, 40]], np.float32)))
    rng = np.random.default_rng(3)
    augment = Augment(flip=0.0, brightness=(1.0, 1.0), mosaic=1.0, plain_share=0.0)
    for _ in range(20):
        out, boxes = mosaic(samples, (64, 64), rng, augment)
        assert out.shape == (64, 64, 3) and 1 <= len(boxes) <= 4
        assert (boxes[:, [1, 3]] >= 0).all() and (boxes[:, [1, 3]] <= 64).all()
        for c, x1, y1, x2, y2 in boxes:
            centre = out[int((y1 + y2) / 2), int((x1 + x2) / 2)]
            assert tuple(int(v) for v in centre) == colours[int(c)]
        present = {tuple(int(v) for v in px) for px in out.reshape(-1, 3)}
        assert set(colours) <= present  # all four frames show
    # draw(): with mosaic 1 and no plain share every draw is a mosaic; with mosaic 0 never
    for _ in range(5):
        shown = {tuple(map(int, px)) for px in draw(samples, 0, (64, 64), rng, augment)[0].reshape(-1, 3)}
        assert colours[0] in shown and len(shown & set(colours)) >= 2  # the drawn frame and at least one other
    plain = Augment(flip=0.0, brightness=(1.0, 1.0), mosaic=0.0, plain_share=1.0)
    out, boxes = draw(samples, 2, (64, 64), rng, plain)
    assert len(boxes) == 1 and boxes[0, 0] == 2
    with pytest.raises(ConfigError, match="4 samples"):
        mosaic(samples[:3], (64, 64), rng, augment)


def test_frames_with_rare_classes_are_drawn_more_often_by_their_repeat_factor():
    image = np.zeros((8, 8, 3), np.uint8)

    def frame(*classes: int) -> Sample:
        return Sample("x", image, np.array([[c, 0, 0, 4, 4] for c in classes], np.float32).reshape(-1, 5))

    samples = [frame(0), frame(0), frame(0, 1), frame()]  # person in 3 of 4 frames, bicycle in 1
    weights = balance_weights(samples, 1.0)
    assert weights == pytest.approx([np.sqrt(4 / 3), np.sqrt(4 / 3), 2.0, 1.0])  # max over a frame's classes
    assert balance_weights(samples, 0.0).tolist() == [1.0] * 4
    assert balance_weights(samples, 0.1).tolist() == [1.0] * 4  # no class rarer than the threshold
    with pytest.raises(ConfigError, match="class-balance threshold"):
        balance_weights(samples, -1.0)
