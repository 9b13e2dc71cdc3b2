"""YOLOX-Nano in PyTorch: the published ONNX weights load into our definition and reproduce its outputs,
SimOTA assigns cells the way the paper describes, the loss falls when the model fits a frame, and a
fine-tuned checkpoint exports to an ONNX file the detector reads (names, size, licence from metadata)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from ris_fusion_ros.core.detection.finetune.yolox_loss import (  # noqa: E402
    YoloXLoss,
    cell_grid,
    pairwise_iou,
    simota,
)
from ris_fusion_ros.core.detection.yolox import STRIDES, build_yolox, load_onnx_weights  # noqa: E402
from ris_fusion_ros.core.errors import ConfigError  # noqa: E402


def test_the_published_weights_reproduce_the_onnx_model(yolox_onnx):
    ort = pytest.importorskip("onnxruntime")
    model = load_onnx_weights(yolox_onnx)
    assert model.head.nc == 80
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 416, 416)).astype(np.float32)
    reference = ort.InferenceSession(str(yolox_onnx)).run(None, {"images": x})[0]
    with torch.no_grad():
        ours = model(torch.from_numpy(x)).numpy()
    assert ours.shape == reference.shape == (1, 3549, 85)
    assert np.abs(ours - reference).max() < 1e-3


def test_a_file_that_is_not_yolox_nano_is_refused_by_name(tmp_path, shared_root):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((4, 3, 1, 1), np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    graph = helper.make_graph([helper.make_node("Conv", ["images", "w", "b"], ["output"])], "tiny",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [weight, bias])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ConfigError, match=r"tiny\.onnx"):
        load_onnx_weights(path, nc=3)


def test_simota_gives_an_object_the_cells_around_its_centre_and_one_owner_per_cell():
    preds = [torch.zeros(1, 7, 64 // s, 64 // s) for s in STRIDES]
    grid, strides = cell_grid(preds, STRIDES)
    centres = (grid + 0.5) * strides[:, None]
    # predicted boxes: 16x16 px on every cell centre
    boxes = torch.cat([centres, torch.full_like(centres, 16.0)], 1)
    scores = torch.full((len(grid), 2), 0.5)
    objects = torch.tensor([[20.0, 20.0, 16.0, 16.0], [44.0, 44.0, 24.0, 24.0]])
    cells, owner, ious = simota(objects, torch.tensor([0, 1]), boxes, scores, centres, strides)
    assert len(cells) == len(set(cells.tolist()))  # every cell predicts one object at most
    assert {0, 1} <= set(owner.tolist())  # each object gets at least one cell
    for g, (cx, cy, w, h) in enumerate(objects.tolist()):
        mine = cells[owner == g]
        inside = ((centres[mine, 0] - cx).abs() < w / 2) & ((centres[mine, 1] - cy).abs() < h / 2)
        assert inside.all()  # cells inside both regions beat those outside
    assert torch.allclose(ious, pairwise_iou(objects, boxes)[owner, cells])
    # an object far outside every cell's reach gets nothing, and nothing crashes
    far = simota(torch.tensor([[1e4, 1e4, 4.0, 4.0]]), torch.tensor([0]), boxes, scores, centres, strides)
    assert all(len(t) == 0 for t in far)


def test_the_loss_falls_when_yolox_fits_one_frame():
    torch.manual_seed(0)
    model = build_yolox(nc=3)
    image = torch.rand(1, 3, 128, 128) * 60
    image[:, :, 40:90, 30:60] += 150  # a bright "person"
    targets = torch.tensor([[0, 0, 45.0, 65.0, 30.0, 50.0]])
    loss_fn = YoloXLoss(STRIDES, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    first = None
    for _ in range(25):
        loss, parts = loss_fn(model.raw(image), targets)
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert parts["positives"] >= 1
    assert float(loss.detach()) < 0.5 * first


def test_an_exported_checkpoint_with_the_original_weights_detects_what_yolox_nano_detects(
        yolox_onnx, tmp_path, shared_root):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.detection import create_detector
    from ris_fusion_ros.core.detection.classes import COCO80
    from ris_fusion_ros.core.detection.detector import read_onnx_header
    from ris_fusion_ros.core.detection.export import export_yolox

    model = load_onnx_weights(yolox_onnx)
    checkpoint = tmp_path / "same.pt"
    torch.save({"state_dict": model.state_dict(), "arch": "yolox-nano", "nc": 80, "names": list(COCO80),
                "imgsz": [416, 416]}, checkpoint)
    path = export_yolox(checkpoint, tmp_path / "same.onnx")
    header = read_onnx_header(path)
    assert header.metadata["layout"] == "yolox" and "Apache-2.0" in header.metadata["license"]
    assert header.input_shape[2] is None  # dynamic size
    dataset = open_dataset("msrs", shared=shared_root)
    pair = dataset[dataset.ids.index("00008N")]
    ours = create_detector(str(path), shared=shared_root, center=False, rect=False).detect(pair.vis)
    published = create_detector("yolox-nano", shared=shared_root).detect(pair.vis)
    assert len(ours) == len(published) > 0
    for a, b in zip(sorted(ours, key=lambda d: -d.score), sorted(published, key=lambda d: -d.score), strict=True):
        assert a.class_id == b.class_id and abs(a.score - b.score) < 1e-3
        assert np.abs(np.asarray(a.box) - np.asarray(b.box)).max() < 0.5
    with pytest.raises(ConfigError, match="not a YOLOX-Nano checkpoint"):
        torch.save({"state_dict": {}}, tmp_path / "other.pt")
        export_yolox(tmp_path / "other.pt", tmp_path / "other.onnx")


def test_train_detector_command_fine_tunes_yolox_nano_into_a_shippable_onnx_file(yolox_onnx, tmp_path, capsys):
    import json

    from ris_fusion_ros.cli import main
    from ris_fusion_ros.core.detection import create_detector
    from ris_fusion_ros.core.detection.detector import read_onnx_header

    split = tmp_path / "split.txt"
    split.write_text("00008N\n")
    out = tmp_path / "x.pt"
    args = ["--no-progress", "train", "detector", "--model", "yolox-nano", "--split", str(split), "--fusion",
            "infrared", "--epochs", "3", "--batch", "1", "--imgsz", "256", "--freeze", "5", "--out", str(out)]
    assert main(args) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["lr"] == 0.002 and "Apache-2.0" in meta["license"]
    assert meta["base_weights"] == "../shared/weights/detectors/yolox_nano.onnx"  # no machine's folders
    assert meta["dataset"] == "../shared/data/msrs"
    before = load_onnx_weights(yolox_onnx).state_dict()
    after = torch.load(str(out), weights_only=True)["state_dict"]
    frozen = [k for k in before if k.startswith("backbone.")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # --freeze 5: the whole backbone
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("head."))
    header = read_onnx_header(out.with_suffix(".onnx"))
    assert header.metadata["finetuned_from"].startswith("yolox_nano.onnx sha256 ")
    detector = create_detector(str(out.with_suffix(".onnx")))
    assert detector.layout.kind == "yolox" and detector.class_names[2] == "car"
    assert detector.info()["input_size"].startswith("256x256")
    again = tmp_path / "again.onnx"  # the export command takes the same checkpoint and checks it
    assert main(["export", "detector", "--checkpoint", str(out), "--out", str(again), "--check"]) == 0
    assert read_onnx_header(again).metadata["layout"] == "yolox"
    report = capsys.readouterr().out
    assert "Apache-2.0" in report and max(float(v) for v in report.rsplit(":", 1)[1].split(",")) < 1e-2


def test_the_torch_backend_runs_yolox_nano_from_our_definition(yolox_onnx, shared_root):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.detection import create_detector
    from ris_fusion_ros.core.fusion import RuntimeOptions

    dataset = open_dataset("msrs", shared=shared_root)
    image = dataset[dataset.ids.index("00008N")].vis
    eager = create_detector("yolox-nano", RuntimeOptions(backend="torch", threads=2), shared=shared_root)
    assert eager.info()["backend"] == "torch"
    a, b = eager.detect(image), create_detector("yolox-nano", shared=shared_root).detect(image)
    assert len(a) == len(b) > 0
    assert [d.class_id for d in a] == [d.class_id for d in b]
    np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=0.05)
    np.testing.assert_allclose([d.score for d in a], [d.score for d in b], atol=1e-4)


def test_the_packaged_fine_tuned_yolox_nano_loads_by_name_and_never_saw_the_held_out_pairs(shared_root):
    import json

    from ris_fusion_ros.core.detection import create_detector
    from ris_fusion_ros.core.detection.detector import model_path, read_onnx_header

    path = model_path("yolox-nano-msrs")
    assert path.is_file() and (path.parent / "NOTICE-yolox_nano_msrs.md").is_file()
    header = read_onnx_header(path)
    assert header.metadata["layout"] == "yolox" and "Apache-2.0" in header.metadata["license"]
    assert header.metadata["finetuned_from"].startswith("yolox_nano.onnx sha256 695e750a")
    trained_on = set(json.loads(path.with_suffix(".json").read_text())["pair_ids"])
    heldout = (Path(__file__).resolve().parents[1] / "data" / "splits" / "msrs_refer_heldout.txt").read_text().split()
    assert len(trained_on) == 193 and trained_on.isdisjoint(heldout)
    detector = create_detector("yolox-nano-msrs", shared=shared_root)
    assert detector.info()["input_size"].startswith("640x640") and detector.class_names[0] == "person"


class _CountingBackend:
    """Wraps a backend and records the batch size of every run."""

    def __init__(self, backend) -> None:
        self.backend, self.batches = backend, []

    def run(self, inputs):
        self.batches.append(next(iter(inputs.values())).shape[0])
        return self.backend.run(inputs)

    def close(self):
        self.backend.close()


def test_detect_many_runs_same_size_frames_as_one_batch_and_finds_what_single_runs_find(shared_root):
    from ris_fusion_ros.core.data.datasets import open_dataset
    from ris_fusion_ros.core.detection import create_detector

    detector = create_detector("yolox-nano-msrs", shared=shared_root, conf=0.2)
    dataset = open_dataset("msrs", shared_root / "data" / "msrs")
    pair = dataset[dataset.ids.index("00008N")]
    fused_like, thermal = pair.vis, pair.ir  # a colour and a gray frame of one size: one tensor shape
    singles = [detector.detect(fused_like), detector.detect(thermal)]
    detector.backend = _CountingBackend(detector.backend)
    batched = detector.detect_many([fused_like, thermal])
    assert detector.backend.batches == [2]
    assert sum(map(len, singles)) > 0
    for one, many in zip(singles, batched, strict=True):
        assert [d.class_name for d in one] == [d.class_name for d in many]
        np.testing.assert_allclose([d.box for d in one], [d.box for d in many], atol=0.05)
        np.testing.assert_allclose([d.score for d in one], [d.score for d in many], atol=1e-4)
    detector.backend.batches.clear()
    detector.detect_many([fused_like, fused_like[:320, :400], thermal])  # two shapes: two runs
    assert sorted(detector.backend.batches) == [1, 2]
    detector.max_batch = 1  # a fixed-batch model or a TensorRT engine: one image per run
    detector.backend.batches.clear()
    detector.detect_many([fused_like, thermal])
    assert detector.backend.batches == [1, 1]
