"""Self-training of the detector: a teacher's boxes become labels or ignore regions, the YOLOX loss trains
no objectness inside an ignore region, pseudo-labelled frames get their share of the draws and no more, and
the command labels, records and refuses what it should."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ris_fusion_ros.core.detection.classes import COCO80  # noqa: E402
from ris_fusion_ros.core.detection.finetune.pseudo import (  # noqa: E402
    IGNORE_CLASS,
    Teacher,
    pseudo_boxes,
    pseudo_summary,
)
from ris_fusion_ros.core.detection.finetune.samples import Sample, draw_weights, epoch_draws  # noqa: E402
from ris_fusion_ros.core.detection.finetune.yolox_loss import YoloXLoss  # noqa: E402
from ris_fusion_ros.core.detection.types import Detection  # noqa: E402
from ris_fusion_ros.core.detection.yolox import STRIDES, build_yolox  # noqa: E402
from ris_fusion_ros.core.errors import ConfigError  # noqa: E402

CLASSES = ("person", "bicycle", "car")


def _det(box, score, name):
    return Detection(tuple(float(v) for v in box), score, COCO80.index(name), name)


def test_confident_boxes_become_labels_unsure_ones_ignore_regions_and_other_classes_are_dropped():
    dets = [_det((0, 0, 10, 20), 0.9, "person"), _det((20, 0, 40, 20), 0.3, "car"),
            _det((50, 0, 60, 20), 0.1, "person"), _det((70, 0, 90, 20), 0.9, "dog")]
    rows = pseudo_boxes(dets, list(COCO80), CLASSES, label_score=0.5, ignore_score=0.2)
    assert rows[:, 0].tolist() == [COCO80.index("person"), IGNORE_CLASS]
    assert rows[1, 1:].tolist() == [20, 0, 40, 20]
    names = ["car", "bicycle", "person"]  # the student's own ids, by name
    assert pseudo_boxes(dets[:1], names, CLASSES)[0, 0] == 2
    with pytest.raises(ConfigError, match="no class"):
        pseudo_boxes(dets, ["person", "car"], CLASSES)
    with pytest.raises(ConfigError, match="ignore score"):
        pseudo_boxes(dets, list(COCO80), CLASSES, label_score=0.2, ignore_score=0.5)


class _TwoViews:
    """A stand-in detector: one list of detections for the fused frame, one for the infrared frame."""

    def __init__(self, fused, infrared):
        self.answers, self.floors = [fused, infrared], []

    def detect_many(self, images, conf=None):
        self.floors.append(conf)
        assert len(images) == 2 and images[1].shape == images[0].shape  # the gray frame goes in as RGB
        return self.answers


def test_the_teacher_merges_people_of_both_views_and_halves_a_person_only_one_view_saw():
    both = (10, 10, 30, 60)
    fused = [_det(both, 0.8, "person"), _det((100, 10, 120, 60), 0.8, "person"), _det((200, 50, 260, 90), 0.7, "car")]
    infrared = [_det((11, 10, 31, 61), 0.6, "person"), _det((300, 50, 360, 90), 0.9, "car")]
    fake = _TwoViews(fused, infrared)
    teacher = Teacher(fake, label_score=0.5, ignore_score=0.2)
    rows = teacher.boxes(np.zeros((120, 400, 3), np.uint8), np.zeros((120, 400), np.uint8), list(COCO80), CLASSES)
    assert fake.floors == [0.1]  # half the ignore score: a merged box keeps the mean of its two scores
    by_x = {round(r[1]): r[0] for r in rows}
    assert by_x[10] == COCO80.index("person")  # both views: mean 0.7, a label
    assert by_x[100] == IGNORE_CLASS  # fused only: 0.4, unsure
    assert by_x[200] == COCO80.index("car")  # cars come from the fused frame alone
    assert 300 not in by_x  # the infrared frame's car is not taken


def test_an_ignore_region_trains_no_objectness_where_no_object_is_assigned():
    torch.manual_seed(0)
    model = build_yolox(nc=3)
    image = torch.rand(1, 3, 128, 128) * 60
    preds = [level.detach().clone() for level in model.raw(image)]
    for level in preds:
        level[:, 4] = 4.0  # every cell confident: background costs objectness loss everywhere
    loss_fn = YoloXLoss(STRIDES, 3)
    person = [0, 0, 30.0, 40.0, 20.0, 40.0]
    plain = loss_fn(preds, torch.tensor([person]))[1]
    ignored = loss_fn(preds, torch.tensor([person, [0, IGNORE_CLASS, 90.0, 90.0, 60.0, 60.0]]))[1]
    assert ignored["positives"] == plain["positives"]  # no cell is assigned to an ignore region
    assert ignored["box"] == pytest.approx(plain["box"]) and ignored["obj"] < 0.85 * plain["obj"]
    only_ignored = loss_fn(preds, torch.tensor([[0, IGNORE_CLASS, 64.0, 64.0, 128.0, 128.0]]))[1]
    assert only_ignored["obj"] == 0.0  # the whole frame unsure: nothing taught, not even background


def test_pseudo_labelled_frames_get_their_share_of_the_draws_and_labelled_frames_keep_one_each():
    image = np.zeros((8, 8, 3), np.uint8)
    labelled = [Sample(f"l{i}", image, np.array([[0, 0, 0, 4, 4]], np.float32)) for i in range(6)]
    pseudo = [Sample(f"p{i}", image, np.array([[0, 0, 0, 4, 4], [-1, 4, 4, 8, 8]], np.float32), pseudo=True)
              for i in range(30)]
    assert draw_weights(labelled, 0.0, 0.0) is None and epoch_draws(labelled, 0.0) == 6
    weights = draw_weights(labelled + pseudo, 0.0, 1 / 3)
    assert weights[6:].sum() / weights.sum() == pytest.approx(1 / 3)
    assert weights[:6].tolist() == [1.0] * 6 and len(set(weights[6:].tolist())) == 1
    assert epoch_draws(labelled + pseudo, 1 / 3) == 9  # six labelled draws plus the pseudo share on top
    assert pseudo_summary(labelled + pseudo) == {"frames": 30, "frames_with_labels": 30, "labels": 30,
                                                 "ignore_regions": 30}
    with pytest.raises(ConfigError, match="labelled frames too"):
        draw_weights(pseudo, 0.0, 0.5)
    with pytest.raises(ConfigError, match="share of the draws is 0"):
        draw_weights(labelled + pseudo, 0.0, 0.0)


def test_train_detector_command_self_trains_on_teacher_labelled_pairs_and_records_them(yolox_onnx, tmp_path,
                                                                                       capsys):
    import json

    from ris_fusion_ros.cli import main

    split = tmp_path / "split.txt"
    split.write_text("00008N\n")
    out, cache = tmp_path / "st.pt", tmp_path / "fused"
    args = ["--no-progress", "train", "detector", "--model", "yolox-nano", "--split", str(split), "--fusion",
            "average,infrared", "--fused-from", str(cache), "--epochs", "1", "--batch", "2", "--imgsz", "256",
            "--freeze", "5", "--mosaic", "0.5", "--pseudo", "m3fd", "--pseudo-teacher", "yolox-nano-msrs",
            "--out", str(out)]
    assert main(args) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    record = meta["pseudo"]
    assert record["datasets"] == ["m3fd"] and record["teacher"] == "yolox-nano-msrs"
    assert record["frames"] == 11 and record["labels"] > 0 and meta["samples"] == 12
    assert meta["config"]["pseudo_share"] == pytest.approx(1 / 3)
    assert (cache / "m3fd" / "average").is_dir()  # the pseudo sets' fused frames cached apart from MSRS ids
    assert "self-training:" in capsys.readouterr().out
    no_teacher = [a for a in args if a not in ("--pseudo-teacher", "yolox-nano-msrs")]
    assert main(no_teacher) == 2
    assert main([*args[:-2], "--pseudo", "msrs", "--out", str(out)]) == 2  # the labelled set itself
    assert main([*args, "--pseudo-inputs", "infrared"]) == 2  # the teacher needs a fused view first


def test_the_command_defaults_are_the_core_thresholds():
    from ris_fusion_ros.commands import train_detector
    from ris_fusion_ros.core.detection.finetune import pseudo

    assert (train_detector.LABEL_SCORE, train_detector.IGNORE_SCORE) == (pseudo.LABEL_SCORE, pseudo.IGNORE_SCORE)
