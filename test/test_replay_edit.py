"""Offline replay with text-commanded edits: ``--edit-at`` commands change the fused frames inside the
referred object only, from the frame after the first detections, until ``reset``; the report lists
the commands, their replies and the edit timing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ris_fusion_ros.core.color import to_gray
from ris_fusion_ros.core.io.sync import ApproximateTimeSync
from ris_fusion_ros.core.pipeline import DetectionStage, EditStage, FusionStage, Pipeline, ReferringStage, merged
from ris_fusion_ros.core.pipeline import bag as bagio
from ris_fusion_ros.core.pipeline.bag_maker import BagPlan, make_bag
from ris_fusion_ros.core.pipeline.config import sync_config
from ris_fusion_ros.core.pipeline.replay import Replayer

pytest.importorskip("rosbags")

from test_replay import synthetic_pairs

from conftest import HotBoxDetector


def _pipeline(edits: bool) -> Pipeline:
    v = merged({"fusion_method": "max", "thermal_offset_seconds": -0.12})
    stage = EditStage(ReferringStage.for_edits(), background=False) if edits else None
    return Pipeline(FusionStage.from_values(v), ApproximateTimeSync(sync_config(v)), DetectionStage(HotBoxDetector()),
                    edits=stage)


def _fused(path) -> list[tuple[int, np.ndarray]]:
    out = []
    for _, _, _, m in bagio.read_messages(path, {"/fused/image"}):
        stamp = m.header.stamp.sec * 10**9 + m.header.stamp.nanosec
        out.append((stamp, np.frombuffer(m.data, np.uint8).reshape(m.height, m.width, 3)))
    return out


def test_edit_at_brightens_the_referred_object_until_reset(tmp_path):
    make_bag(synthetic_pairs(), 6, tmp_path / "in", BagPlan(frames=24, drop_rgb=0.0, drop_thermal=0.0))
    plain = Replayer(_pipeline(False), tmp_path / "in", tmp_path / "plain").run()
    commands = [(0.0, "brighten the person"), (0.3, "sing a song"), (0.5, "reset")]
    pipeline = _pipeline(True)
    stats = Replayer(pipeline, tmp_path / "in", tmp_path / "edited", edit_at=commands).run()
    assert stats.frames == plain.frames == 24
    assert [(e["command"], e["accepted"], e["kind"]) for e in stats.edits] == [
        ("brighten the person", True, "edit"), ("sing a song", False, "unknown"), ("reset", True, "reset")]
    replies = [m.data for _, _, _, m in bagio.read_messages(tmp_path / "edited", {"/fusion_node/edit_status"})]
    assert replies == [e["reply"] for e in stats.edits]
    t0 = stats.stamps_s[0]
    edited_frames = 0
    for (stamp, a), (_, b), index in zip(_fused(tmp_path / "plain"), _fused(tmp_path / "edited"),
                                         range(10**6), strict=False):
        change = to_gray(b) - to_gray(a)
        t = stamp / 1e9 - t0
        if index == 0 or t > 0.55:  # no detections yet / after reset: plain fusion, bit for bit
            np.testing.assert_array_equal(a, b)
            continue
        if t < 0.45:  # the hot box of the previous frame (moves 4 px per pair): brighter there, nothing outside
            assert change.max() > 5.0
            ys = np.nonzero(change)[0]
            assert ys.min() >= 10 and ys.max() < 22  # the rows of the hot object
            edited_frames += 1
    assert edited_frames >= 10
    assert len(stats.timings_ms["edit"]) >= edited_frames


def test_cli_replay_edit_report(tmp_path, write_pair_folder):
    from ris_fusion_ros.cli import main

    root = write_pair_folder({f"{i:05d}": (ir, vis) for i, (_, ir, vis) in enumerate(synthetic_pairs(3))})
    assert main(["make-bag", "--dataset", "msrs", "--data-root", str(root), "--out", str(tmp_path / "b"),
                 "--frames", "20", "--no-progress"]) == 0
    assert main(["replay", str(tmp_path / "b"), "--out", str(tmp_path / "o"), "--no-detection", "--no-progress",
                 "--set", "fusion_method=max", "--set", "thermal_offset_seconds=-0.12", "--metrics-every", "0",
                 "--edit", "darken everything", "--edit-at", "0.3:reset"]) == 0
    summary = json.loads((tmp_path / "o_report" / "report.json").read_text())
    assert [(e["command"], e["accepted"]) for e in summary["edits"]] == [("darken everything", True), ("reset", True)]
    assert 0 < summary["timings_ms"]["edit"]["n"] < summary["frames"]
    report = (tmp_path / "o_report" / "report.md").read_text()
    assert "## Edits" in report and "| darken everything | yes |" in report and "Applying the active edits" in report
    assert main(["replay", str(tmp_path / "b"), "--out", str(tmp_path / "o2"), "--no-progress",
                 "--edit-at", "soon:reset"]) == 2
