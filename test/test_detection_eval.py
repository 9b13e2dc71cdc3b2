"""COCO evaluation of detections and the detection commands (eval detect, bench detect, export detector)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from ris_fusion_ros.cli import main
from ris_fusion_ros.core.detection import Detection
from ris_fusion_ros.core.detection.coco_eval import CocoAccumulator, bootstrap_map50, evaluate, map50_difference
from ris_fusion_ros.core.detection.evaluation import DetectionRow, map50_intervals, target_check
from ris_fusion_ros.core.errors import ConfigError

pytest.importorskip("pycocotools")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

NAMES = ["person", "bicycle", "car"]


def test_coco_scores_of_a_known_case():
    acc = CocoAccumulator(NAMES)
    gt = np.array([[0, 10, 10, 50, 100], [2, 100, 100, 200, 150]])
    dets = [Detection((10, 10, 50, 100), 0.9, 0, "person"),
            Detection((300, 300, 310, 310), 0.8, 2, "car"),  # false positive ranked above the true car
            Detection((100, 100, 200, 150), 0.5, 2, "car"),
            Detection((0, 0, 5, 5), 0.9, 7, "truck")]  # not an evaluated class: ignored
    acc.add_image(1, 640, 480, gt, NAMES, dets)
    scores = evaluate(acc)
    assert scores.ap50["person"] == pytest.approx(1.0)
    assert scores.ap50["car"] == pytest.approx(0.5)  # precision 1/2 at full recall
    assert math.isnan(scores.ap50["bicycle"])  # no bicycle in the data
    assert scores.map50 == pytest.approx(0.75) and scores.map50_95 == pytest.approx(0.75)
    assert (scores.n_objects, scores.n_detections) == (2, 3)


def test_coco_scores_drop_with_looser_boxes_and_no_detections():
    gt = np.array([[0, 100, 100, 200, 300]])
    acc = CocoAccumulator(NAMES)
    acc.add_image(1, 640, 480, gt, NAMES, [Detection((100, 100, 200, 240), 0.9, 0, "person")])  # IoU 0.7
    scores = evaluate(acc)
    assert scores.map50 == pytest.approx(1.0)
    assert 0.0 < scores.map50_95 < 0.5  # matched only at IoU thresholds 0.5..0.7
    empty = CocoAccumulator(NAMES)
    empty.add_image(1, 640, 480, gt, NAMES, [])
    assert evaluate(empty).map50 == 0.0


def _varied(seed: int, miss: float) -> CocoAccumulator:
    """Twelve images with people, bicycles and cars; each object is detected with probability 1 - ``miss``
    (jittered box, random score) and every image gets a false box."""
    rng = np.random.default_rng(seed)
    acc = CocoAccumulator(NAMES)
    for image_id in range(1, 13):
        gt, dets = [], []
        for _ in range(int(rng.integers(1, 5))):
            cls = int(rng.integers(0, 3))
            x, y = rng.uniform(0, 500, 2)
            box = (x, y, x + rng.uniform(20, 120), y + rng.uniform(20, 120))
            gt.append([cls, *box])
            if rng.random() > miss:
                jitter = rng.normal(0, 4, 4)
                dets.append(Detection(tuple(float(v) for v in np.add(box, jitter)), float(rng.uniform(0.3, 1)), cls,
                                      NAMES[cls]))
        x, y = rng.uniform(0, 500, 2)
        cls = int(rng.integers(0, 3))
        dets.append(Detection((x, y, x + 40, y + 40), float(rng.uniform(0, 1)), cls, NAMES[cls]))
        acc.add_image(image_id, 640, 480, np.array(gt), NAMES, dets)
    return acc


def test_bootstrap_lays_out_pycocotools_results_per_draw():
    good, poor = _varied(1, miss=0.1), _varied(1, miss=0.6)  # same images and truth, different detections
    full = [evaluate(good).map50, evaluate(poor).map50]
    identity = bootstrap_map50([good, poor], draws=np.arange(12)[None])
    np.testing.assert_allclose(identity[0], full)  # drawing every image once is the plain evaluation
    # one image drawn twelve times scores as that image alone
    single = CocoAccumulator(NAMES)
    single.images, single.annotations = [good.images[3]], [a for a in good.annotations if a["image_id"] == 4]
    single.results = [r for r in good.results if r["image_id"] == 4]
    assert bootstrap_map50([good], draws=np.full((1, 12), 3))[0, 0] == pytest.approx(evaluate(single).map50)
    samples = bootstrap_map50([good, poor], resamples=200, seed=0)
    assert samples.shape == (200, 2) and np.all(samples >= 0) and np.all(samples <= 1)
    assert samples[:, 0].std() > 0  # the draws differ
    diff = map50_difference(full[0] - full[1], samples[:, 0], samples[:, 1])
    assert diff.low > 0 and diff.not_better < 0.025 and diff.resamples == 200  # 10 % vs 60 % misses: clear
    same = map50_difference(0.0, samples[:, 0], samples[:, 0])
    assert (same.low, same.high, same.not_better) == (0.0, 0.0, 1.0)  # a tie is never "ahead"
    with pytest.raises(ConfigError, match="same images"):
        bootstrap_map50([good, CocoAccumulator(NAMES)], resamples=2)


def test_map50_intervals_feed_the_target_check():
    rows = [DetectionRow(name, "d", evaluate(acc), "", [], acc)
            for name, acc in (("visible", _varied(3, 0.7)), ("risfusenet", _varied(3, 0.1)),
                              ("tardal", _varied(3, 0.1)))]
    intervals = map50_intervals(rows, resamples=100)
    assert set(intervals) == {("d", "visible"), ("d", "tardal")}
    assert intervals[("d", "tardal")].delta == 0.0 and intervals[("d", "visible")].low > 0
    line = target_check(rows, intervals=intervals)[-1]
    assert "paired bootstrap" in line and line.endswith("Ahead beyond the 95 % interval of: visible")


def test_ground_truth_matches_the_shipped_coco_json(shared_root):
    """Our YOLO-label -> COCO conversion gives the boxes of msrs/labels/coco_dev.json."""
    from ris_fusion_ros.core.data import open_dataset

    path = shared_root / "data" / "msrs" / "labels" / "coco_dev.json"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    reference = json.loads(path.read_text())
    by_id = {img["msrs_id"]: img["id"] for img in reference["images"]}
    expected: dict[str, list] = {}
    for ann in reference["annotations"]:
        expected.setdefault(ann["image_id"], []).append((ann["category_id"], *ann["bbox"]))
    from ris_fusion_ros.core.data.labels import read_yolo_labels

    dataset = open_dataset("msrs", split="dev", shared=str(shared_root))
    acc = CocoAccumulator(NAMES)
    for record in dataset.records:
        acc.add_image(by_id[record.pair_id], 640, 480, read_yolo_labels(record.label_path, 640, 480),
                      dataset.class_names, [])
    assert len(acc.annotations) == len(reference["annotations"]) == 1119
    ours: dict[int, list] = {}
    for ann in acc.annotations:
        ours.setdefault(ann["image_id"], []).append((ann["category_id"] - 1, *ann["bbox"]))
    for image_id, boxes in expected.items():
        np.testing.assert_allclose(sorted(ours[image_id]), sorted(boxes), atol=0.01)


def _row(input_name, detector, map50):
    from ris_fusion_ros.core.detection.coco_eval import CocoScores

    return DetectionRow(input_name, detector, CocoScores(map50, map50 / 2, {}, {}, 1, 1, 1), "")


def test_target_check_reports_margin_and_peers():
    rows = [_row("visible", "d", 0.50), _row("infrared", "d", 0.55), _row("risfusenet", "d", 0.60),
            _row("tardal", "d", 0.62), _row("seafusion", "d", 0.40), _row("max", "d", 0.70),
            _row("risfusenet-plain", "d", 0.65)]  # a variant of ours is not a peer
    lines = target_check(rows)
    assert "delta +0.0500" in lines[0] and "met" in lines[0] and "NOT" not in lines[0]
    assert "beats 1/2 peer fused inputs; not beaten: tardal 0.6200" in lines[1]
    assert "baselines max 0.7000" in lines[2]
    assert "NOT met" in target_check([_row("visible", "d", 0.58), _row("risfusenet", "d", 0.60)])[0]
    # objects found at the operating score, item by item against every other input
    found = {"visible": [True, False, False, True], "risfusenet": [True, True, True, False],
             "tardal": [True, True, True, False]}
    rows = [_row(k, "d", 0.5) for k in found]
    for r in rows:
        r.found = found[r.input]
    paired = target_check(rows)[-1]
    assert "visible +2 / -1 of 4 (p = 1)" in paired and "tardal +0 / -0 of 4 (p = 1)" in paired


# ------------------------------------------------------------------------------------------------
# commands, on a two-pair data set and a planted ONNX detector (no shared weights needed)
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def planted_detector(tmp_path):
    from test_detection import _constant_model, _yolov8_prediction

    return _constant_model(tmp_path / "planted.onnx", {"output0": _yolov8_prediction(3)},
                           names="{0: 'person', 1: 'car', 2: 'bicycle'}")


@pytest.fixture
def tiny_msrs(write_pair_folder):
    rng = np.random.default_rng(0)
    pairs = {pid: (rng.integers(0, 255, (64, 64), dtype=np.uint8), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
             for pid in ("a", "b")}
    root = write_pair_folder(pairs)
    (root / "labels" / "fusion").mkdir(parents=True)
    (root / "labels" / "classes.txt").write_text("0 person\n1 bicycle\n2 car\n")
    # the planted car (8,16)-(24,40) and person (32,24)-(48,48), as YOLO lines of a 64x64 image
    lines = "2 0.25 0.4375 0.25 0.375\n0 0.625 0.5625 0.25 0.375\n"
    for pid in pairs:
        (root / "labels" / "fusion" / f"{pid}.txt").write_text(lines)
    return root


def test_eval_detect_command_writes_summary_report_and_plot(tmp_path, tiny_msrs, planted_detector, capsys):
    from PIL import Image

    fused = tmp_path / "earlier" / "fused" / "max"
    fused.mkdir(parents=True)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(fused / "a.png")
    out = tmp_path / "out"
    code = main(["--no-progress", "eval", "detect", "--dataset", "msrs", "--data-root", str(tiny_msrs),
                 "--out", str(out), "--inputs", "visible,infrared,max", "--detectors", planted_detector,
                 "--fused-from", str(tmp_path / "earlier")])
    assert code == 0
    with (out / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["input"] for r in rows] == ["visible", "infrared", "max"]
    for r in rows:  # the planted detector returns exactly the labelled boxes on every input
        assert float(r["mAP50"]) == pytest.approx(1.0) and float(r["mAP50_95"]) == pytest.approx(1.0)
        assert r["images"] == "2" and r["objects"] == "4"
        assert r["AP50_bicycle"] == "nan" and r["found_at_0.25"] == "4"
    assert rows[2]["fused_images"].startswith("1 read from") and "1 fused on the fly" in rows[2]["fused_images"]
    report = (out / "report.md").read_text()
    assert "pycocotools" in report and (out / "summary.png").stat().st_size > 1000
    assert "paired bootstrap over images (1000 draws" in report
    assert "no training record beside planted.onnx; whether it saw the evaluated pairs is unknown" in report
    captured = capsys.readouterr()
    assert f"| {planted_detector} | visible | 1.000 | 1.000 |" in captured.out and "risfusenet" not in captured.out
    assert "no training record beside planted.onnx" in captured.err


def test_eval_detect_says_when_a_detector_was_trained_on_the_evaluated_pairs(tmp_path, tiny_msrs,
                                                                              planted_detector, capsys):

    record = {"pair_ids": ["a", "z"], "samples": 2, "dataset": "../shared/data/msrs", "split": "mine.txt"}
    Path(planted_detector).with_suffix(".json").write_text(json.dumps(record))
    out = tmp_path / "out"
    assert main(["--no-progress", "eval", "detect", "--dataset", "msrs", "--data-root", str(tiny_msrs),
                 "--out", str(out), "--inputs", "visible", "--detectors", planted_detector, "--bootstrap", "0"]) == 0
    warning = (f"WARNING: {planted_detector} was trained on 1 of the 2 evaluated pairs (a; record: 2 pairs of "
               "../shared/data/msrs (mine.txt)): these scores are not a held-out measurement")
    assert warning in (out / "report.md").read_text() and warning in capsys.readouterr().err
    record["pair_ids"] = ["x", "y"]
    Path(planted_detector).with_suffix(".json").write_text(json.dumps(record))
    assert main(["--no-progress", "eval", "detect", "--dataset", "msrs", "--data-root", str(tiny_msrs),
                 "--out", str(out), "--inputs", "visible", "--detectors", planted_detector, "--bootstrap", "0"]) == 0
    assert "held out (none of the 2 evaluated pairs" in (out / "report.md").read_text()
    assert "WARNING" not in capsys.readouterr().err


def test_training_overlap_of_published_packaged_and_ensembled_detectors(tmp_path):

    from ris_fusion_ros.core.detection.provenance import training_overlap

    root = Path(__file__).resolve().parents[1] / "data" / "splits"
    heldout = (root / "msrs_refer_heldout.txt").read_text().split()
    train = (root / "msrs_refer_train.txt").read_text().split()
    assert training_overlap("yolox-nano-msrs", heldout).held_out
    assert len(training_overlap("yolox-nano-msrs", heldout + train[:3]).trained_on) == 3
    assert training_overlap("yolov5n", train).held_out  # published COCO weights
    assert "published weights" in training_overlap("yolox-nano", train).sentence()
    member = tmp_path / "m.onnx"
    member.with_suffix(".json").write_text(json.dumps({"pair_ids": [heldout[0]]}))
    both = training_overlap(f"yolox-nano-msrs+{member}", heldout + train[:2])
    assert both.trained_on == tuple(sorted([heldout[0], *train[:2]])) and len(both.sources) == 2
    unknown = training_overlap(str(tmp_path / "other.onnx"), heldout)
    assert not unknown.held_out and unknown.unrecorded == ("other.onnx",)


def test_eval_detect_rejects_unknown_inputs(tmp_path, tiny_msrs, planted_detector, capsys):
    code = main(["--no-progress", "eval", "detect", "--dataset", "msrs", "--data-root", str(tiny_msrs),
                 "--out", str(tmp_path / "o"), "--inputs", "visible,nosuchfusion", "--detectors", planted_detector])
    assert code == 2 and "nosuchfusion" in capsys.readouterr().err
    code = main(["--no-progress", "eval", "detect", "--dataset", "msrs", "--data-root", str(tiny_msrs),
                 "--out", str(tmp_path / "o"), "--detectors", planted_detector, "--bootstrap", "-1"])
    assert code == 2 and "--bootstrap takes a number of draws" in capsys.readouterr().err


def test_bench_detect_prints_a_table(planted_detector, capsys):
    assert main(["bench", "detect", "--detectors", planted_detector, "--runs", "3", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 timed runs" in out and "| planted |" in out.replace(planted_detector, "planted")


def test_export_detector_command(tmp_path, shared_root, capsys):
    weights = shared_root / "weights" / "detectors" / "yolov5n_coco.pt"
    if not weights.is_file():
        pytest.skip(f"{weights} not available")
    target = tmp_path / "yolov5n.onnx"
    assert main(["--shared-root", str(shared_root), "export", "detector", "--model", "yolov5n", "--out", str(target),
                 "--check"]) == 0
    out = capsys.readouterr().out
    diffs = [float(v) for v in out.rsplit(":", 1)[1].split(",")]
    assert max(diffs) < 1e-2  # decoded boxes are in pixels (hundreds); ORT and torch agree to rounding
    model = onnx.load(str(target))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["layout"] == "yolov5" and meta["names"].startswith("{0: 'person'")
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
