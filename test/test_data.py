"""Data set loaders: the real sets in ../shared and synthetic folders with every kind of fault."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ris_fusion_ros.core.data import PairDataset, open_dataset
from ris_fusion_ros.core.errors import ConfigError, DataError
from ris_fusion_ros.core.paths import SHARED_ENV, shared_root

EXPECTED_PAIRS = {"msrs": 241, "roadscene": 221, "tno": 25, "llvip": 44, "m3fd": 11}


@pytest.mark.parametrize("name", sorted(EXPECTED_PAIRS))
def test_every_shared_dataset_opens_and_its_first_pair_loads(shared_root, name):
    dataset = open_dataset(name, shared=shared_root)
    assert len(dataset) == EXPECTED_PAIRS[name]
    pair = dataset[0]
    assert pair.ir.dtype == np.uint8 and pair.ir.ndim == 2
    assert pair.vis.dtype == np.uint8 and pair.vis.shape == (*pair.ir.shape, 3)


def test_msrs_split_and_boxes_agree_with_the_coco_json(shared_root):
    """Our YOLO parsing is checked against the independently converted COCO file."""
    dataset = open_dataset("msrs", split="dev", shared=shared_root)
    assert len(dataset) == 241 and dataset.class_names == ["person", "bicycle", "car"]
    coco = json.loads((shared_root / "data/msrs/labels/coco_dev.json").read_text())
    by_id = {img["msrs_id"]: img["id"] for img in coco["images"]}
    for index in (0, 100, 240):
        pair = dataset[index]
        anns = sorted((a for a in coco["annotations"] if a["image_id"] == by_id[pair.pair_id]),
                      key=lambda a: (a["bbox"][0], a["bbox"][1]))
        ours = sorted(pair.boxes.tolist(), key=lambda b: (b[1], b[2]))
        assert len(ours) == len(anns) > 0
        for box, ann in zip(ours, anns, strict=True):
            x, y, w, h = ann["bbox"]
            assert box[0] == ann["category_id"]
            np.testing.assert_allclose(box[1:], [x, y, x + w, y + h], atol=2e-3)


def test_pairs_are_matched_by_stem_across_extensions(write_pair_folder):
    ir = np.full((4, 6), 7, np.uint8)
    vi = np.zeros((4, 6, 3), np.uint8)
    root = write_pair_folder({"a": (ir, vi)}, ir_suffix=".png", vi_suffix=".webp")
    pair = PairDataset(root)[0]
    assert pair.pair_id == "a" and pair.size == (6, 4) and pair.ir[0, 0] == 7


def test_missing_partner_names_the_missing_file(write_pair_folder):
    root = write_pair_folder({"a": (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)),
                              "b": (np.zeros((4, 4), np.uint8), None)})
    with pytest.raises(DataError, match=r"missing vi image for pair 'b'.*vi/b"):
        PairDataset(root)


def test_size_mismatch_names_both_files(write_pair_folder):
    root = write_pair_folder({"a": (np.zeros((4, 4), np.uint8), np.zeros((5, 4, 3), np.uint8))})
    dataset = PairDataset(root)
    with pytest.raises(DataError, match=r"size mismatch in pair 'a'.*ir/a.png is 4x4.*vi/a.png is 4x5"):
        dataset[0]


def test_unreadable_image_names_the_file(write_pair_folder):
    root = write_pair_folder({"a": (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8))})
    (root / "ir" / "a.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot read image .*ir/a.png"):
        PairDataset(root)[0]


def test_split_file_selects_ids_and_reports_unknown_ones(write_pair_folder, tmp_path):
    pairs = {k: (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)) for k in ("a", "b", "c")}
    root = write_pair_folder(pairs)
    (root / "splits").mkdir()
    (root / "splits" / "two.txt").write_text("c\n# comment\n\na\n")
    assert PairDataset(root, split="two").ids == ["c", "a"]
    bad = tmp_path / "bad.txt"
    bad.write_text("a\nzz\n")
    with pytest.raises(DataError, match="missing ir image for pair 'zz'"):
        PairDataset(root, split=bad)
    with pytest.raises(DataError, match="split 'nope' not found"):
        PairDataset(root, split="nope")


def test_bad_label_line_names_file_and_line(write_pair_folder):
    from ris_fusion_ros.core.data.datasets import DatasetSpec

    root = write_pair_folder({"a": (np.zeros((10, 20), np.uint8), np.zeros((10, 20, 3), np.uint8))})
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("0  0.5 0.5 0.5 0.5  \n1 0.5 0.5\n")
    dataset = PairDataset(root, DatasetSpec("t", "", labels_dir="labels"))
    with pytest.raises(DataError, match=r"labels/a.txt:2: bad YOLO label line"):
        dataset[0]
    (root / "labels" / "a.txt").write_text("0  0.5 0.5 0.5 0.5  \n\n2 0.95 0.1 0.2 0.4\n")
    np.testing.assert_allclose(dataset[0].boxes, [[0, 5, 2.5, 15, 7.5], [2, 17, 0, 20, 3]])


def test_shared_root_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path))
    assert shared_root() == tmp_path.resolve()
    with pytest.raises(ConfigError, match="--shared-root"):
        shared_root(tmp_path / "absent")
    with pytest.raises(ConfigError, match="data folder for 'msrs' not found"):
        open_dataset("msrs")
    with pytest.raises(DataError, match="unknown data set 'kitti'"):
        open_dataset("kitti")


def test_recorded_paths_do_not_name_this_machines_folders(tmp_path, monkeypatch):
    from ris_fusion_ros.core.paths import portable_path

    shared = tmp_path / "shared"
    (shared / "weights").mkdir(parents=True)
    monkeypatch.setenv(SHARED_ENV, str(shared))
    assert portable_path(shared / "weights" / "w.pt") == "../shared/weights/w.pt"
    assert portable_path(Path(__file__)) == "test/test_data.py"  # inside the checkout: relative to it
    assert portable_path(tmp_path / "elsewhere.pt") == str((tmp_path / "elsewhere.pt").resolve())
