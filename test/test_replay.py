"""make-bag and offline replay (rosbags; no ROS needed): injected drops are what pairing reports,
outputs carry the source stamps, bad messages are counted, MCAP and sqlite3 both work, and the CLI
runs end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ris_fusion_ros.core.io.sync import ApproximateTimeSync
from ris_fusion_ros.core.pipeline import DetectionStage, FusionStage, Pipeline, ReferringStage, merged
from ris_fusion_ros.core.pipeline import bag as bagio
from ris_fusion_ros.core.pipeline.bag_maker import BagPlan, make_bag, read_manifest
from ris_fusion_ros.core.pipeline.config import sync_config
from ris_fusion_ros.core.pipeline.replay import Replayer
from ris_fusion_ros.core.pipeline.report import build_summary, write_report
from ris_fusion_ros.core.referring.operating_point import GENERIC

from conftest import HotBoxDetector

pytest.importorskip("rosbags")

H, W = 48, 64


def synthetic_pairs(n: int = 6) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """A hot square moving right over a grey street; RGB with a little texture."""
    pairs = []
    rng = np.random.default_rng(1)
    for i in range(n):
        ir = np.full((H, W), 40, np.uint8)
        ir[10:22, 5 + 4 * i:21 + 4 * i] = 230
        vis = rng.integers(50, 90, (H, W, 3), dtype=np.uint8)
        pairs.append((f"p{i}", ir, vis))
    return pairs


def fusion_pipeline(values: dict | None = None, detector=None, referring: bool = False) -> Pipeline:
    v = merged({"fusion_method": "max", "thermal_offset_seconds": -0.12, **(values or {})})
    detection = DetectionStage(detector) if detector is not None else None
    return Pipeline(FusionStage.from_values(v), ApproximateTimeSync(sync_config(v)), detection,
                    ReferringStage.create() if referring else None)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_replay_pairs_equal_what_make_bag_injected_and_outputs_keep_source_stamps(tmp_path, storage):
    plan = BagPlan(frames=90, drop_rgb=0.08, drop_thermal=0.08, seed=3, storage=storage,
                   texts=[(0.5, "the person")])
    manifest = make_bag(synthetic_pairs(), 6, tmp_path / "in", plan)
    assert manifest.rgb_dropped and manifest.thermal_dropped  # the seed injects both kinds
    summary_in = bagio.bag_summary(tmp_path / "in")
    assert summary_in["topics"]["/thermal/image_raw"]["count"] == manifest.thermal_frames
    assert summary_in["topics"]["/rgb/image_raw"]["count"] == manifest.rgb_frames
    pipeline = fusion_pipeline(detector=HotBoxDetector(), referring=True)
    stats = Replayer(pipeline, tmp_path / "in", tmp_path / "out", storage=storage, metrics_every=30).run()
    sync = pipeline.sync_stats
    assert sync.pairs == stats.frames == manifest.expected_pairs
    assert sync.thermal.unmatched == manifest.expected_unmatched["thermal"] == len(manifest.rgb_dropped)
    assert sync.rgb.unmatched == manifest.expected_unmatched["rgb"] == len(manifest.thermal_dropped)
    summary = build_summary(stats, sync, dict(pipeline.bad), read_manifest(tmp_path / "in"), {"in_bag": "in"})
    assert summary["injected"]["match"] is True
    report = write_report(tmp_path / "report", summary, stats)
    assert "**equal**" in report.read_text() and (tmp_path / "report" / "timing.png").is_file()
    # outputs: the RGB source stamps and frame, in order; thermal stamps differ by the clock offset
    rgb_stamps = [bagio_stamp(m) for t, _, _, m in bagio.read_messages(tmp_path / "in", {"/rgb/image_raw"})]
    fused = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/fused/image"})]
    assert len(fused) == manifest.expected_pairs
    assert all(m.header.frame_id == "rgb_optical" and m.encoding == "rgb8" for m in fused)
    out_stamps = [bagio_stamp(m) for m in fused]
    assert out_stamps == sorted(out_stamps) and set(out_stamps) <= set(rgb_stamps)
    dets = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/detections"})]
    assert [bagio_stamp(m) for m in dets] == out_stamps
    assert all(len(m.detections) == 1 and m.detections[0].bbox.size_y == 12.0 for m in dets)
    # RViz markers as the live nodes publish them: one MarkerArray per frame on each topic, same stamps/frame
    out_topics = bagio.bag_summary(tmp_path / "out")["topics"]
    for topic in ("/detections/markers", "/referring/markers"):
        assert out_topics[topic] == {"type": "visualization_msgs/msg/MarkerArray", "count": stats.frames}
        assert stats.outputs[topic] == stats.frames
    det_markers = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/detections/markers"})]
    assert [bagio_stamp(m.markers[0]) for m in det_markers] == out_stamps
    for m in det_markers:  # DELETEALL, then the hot box and its label
        assert [(k.type, k.action, k.ns) for k in m.markers] == [(0, 3, "detections"), (4, 0, "detections"),
                                                                (9, 0, "detections")]
        assert m.markers[1].header.frame_id == "rgb_optical" and len(m.markers[1].points) == 5
        assert m.markers[2].text == "person 0.90"
    results = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/referring/result"})]
    ref_markers = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/referring/markers"})]
    assert [bagio_stamp(m.markers[0]) for m in ref_markers] == out_stamps
    referred = 0
    for result, m in zip(results, ref_markers, strict=True):
        assert m.markers[0].ns == "referred" and m.markers[0].action == 3
        if result.text == "the person" and not result.no_match:
            referred += 1
            assert m.markers[2].type == 9 and m.markers[2].text == 'person 0.90 <- "the person"'
        else:  # no text yet: only the DELETEALL
            assert len(m.markers) == 1
    assert referred > 0
    diags = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/diagnostics"})]
    assert len(diags) >= 3  # about one per second of bag time (3 s here) and one at the end
    last = {kv.key: kv.value for kv in diags[-1].status[0].values}
    assert last["pairs"] == str(manifest.expected_pairs) and last["rgb_unmatched"] == str(len(manifest.thermal_dropped))
    assert len(json.loads((tmp_path / "in" / "ris_fusion_manifest.json").read_text())["pair_ids"]) == 90


def test_referred_markers_show_the_selection_s_own_instances(tmp_path):
    """A box under the published score that the referrer's second look selects: /detections is empty, the
    referring result and its markers show the box (they index the selection's instances, not /detections)."""
    plan = BagPlan(frames=30, seed=1, texts=[(0.1, "the person")])
    make_bag(synthetic_pairs(), 3, tmp_path / "in", plan)
    v = merged({"fusion_method": "max", "thermal_offset_seconds": -0.12})
    detection = DetectionStage(HotBoxDetector(score=0.2), candidate_score=GENERIC.second_look_score)  # 0.15
    pipeline = Pipeline(FusionStage.from_values(v), ApproximateTimeSync(sync_config(v)), detection,
                        ReferringStage.create())
    stats = Replayer(pipeline, tmp_path / "in", tmp_path / "out").run()
    assert stats.frames > 0
    dets = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/detections"})]
    assert dets and all(len(m.detections) == 0 for m in dets)
    results = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/referring/result"})]
    ref_markers = [m for _, _, _, m in bagio.read_messages(tmp_path / "out", {"/referring/markers"})]
    found = [(r, m) for r, m in zip(results, ref_markers, strict=True) if r.text == "the person" and not r.no_match]
    assert found
    for _, m in found:
        assert m.markers[2].text == 'person 0.20 <- "the person"'


def bagio_stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def test_without_the_offset_correction_pairs_are_wrong_and_the_report_says_so(tmp_path):
    # 120 ms of clock offset is ~3.6 frames: thermal i pairs with RGB i+4 (13 ms apart, inside the slop)
    make_bag(synthetic_pairs(), 6, tmp_path / "in", BagPlan(frames=30, drop_rgb=0.0, drop_thermal=0.0))
    pipeline = fusion_pipeline({"thermal_offset_seconds": 0.0})
    stats = Replayer(pipeline, tmp_path / "in", None).run()
    summary = build_summary(stats, pipeline.sync_stats, {}, read_manifest(tmp_path / "in"), {})
    assert summary["injected"]["match"] is False
    assert stats.frames < 30 and pipeline.sync_stats.thermal.unmatched > 0


def test_bad_messages_in_a_bag_are_counted_and_replay_continues(tmp_path):
    path = tmp_path / "bad"
    with bagio.BagWriter(path, "mcap") as w:
        t0 = 1_700_000_000 * 10**9
        period = 33_333_333
        for i in range(12):
            stamp = t0 + i * period
            ir = np.full((H, W), 1000 + 50 * i, np.uint16)
            thermal = bagio.image(ir, "mono16", stamp, "thermal")
            if i == 3:
                thermal = bagio.image(np.zeros((H, W, 3), np.uint8), "bgr8", stamp, "thermal")  # wrong encoding
            if i == 5:
                nan = np.full((H, W), np.nan, np.float32)
                thermal = bagio.image(nan, "32FC1", stamp, "thermal")  # all-NaN thermal
            rgb = bagio.image(np.full((H, W, 3), 80, np.uint8), "rgb8", stamp, "rgb")
            if i == 7:
                rgb = bagio.image(np.full((H + 2, W, 3), 80, np.uint8), "rgb8", stamp, "rgb")  # size mismatch
            if i == 9:
                rgb = bagio.image(np.full((H, W, 3), 80, np.uint8), "rgb8", stamp - 5 * period, "rgb")  # backwards
            w.write("/thermal/image_raw", "sensor_msgs/msg/Image", thermal, stamp + 1)
            w.write("/rgb/image_raw", "sensor_msgs/msg/Image", rgb, stamp + 2)
        w.write("/referring_text", "std_msgs/msg/String", bagio.string("x" * 1_000_000), t0 + 12 * period)
    pipeline = fusion_pipeline({"thermal_offset_seconds": 0.0})
    stats = Replayer(pipeline, path, tmp_path / "out").run()
    assert pipeline.bad["thermal_encoding"] == 1
    assert pipeline.bad["size_mismatch"] == 1
    assert pipeline.sync_stats.rgb.backwards == 1
    assert pipeline.text.rejected == 1 and pipeline.text.text == ""
    # frame 5 (all NaN) is fused (the normaliser maps non-finite pixels to 0 and counts them)
    assert pipeline.fusion.normalizer.total_nonfinite == H * W
    # lost: pair 3 (thermal not decodable), pair 7 (paired, but sizes differ), pair 9 (RGB rejected as backwards)
    assert stats.frames == 12 - 3 and pipeline.sync_stats.pairs == 10


def test_cli_make_bag_then_replay_fusion_only(tmp_path, write_pair_folder, capsys):
    from ris_fusion_ros.cli import main

    root = write_pair_folder({f"{i:05d}": (ir, vis) for i, (_, ir, vis) in enumerate(synthetic_pairs(3))})
    assert main(["make-bag", "--dataset", "msrs", "--data-root", str(root), "--out", str(tmp_path / "b"),
                 "--frames", "40", "--no-progress", "--text-at", "0.2:the person"]) == 0
    assert "replay it:" in capsys.readouterr().out
    assert main(["replay", str(tmp_path / "b"), "--out", str(tmp_path / "o"), "--no-detection", "--no-progress",
                 "--set", "fusion_method=max", "--set", "thermal_offset_seconds=-0.12", "--metrics-every", "5"]) == 0
    summary = json.loads((tmp_path / "o_report" / "report.json").read_text())
    assert summary["injected"]["match"] is True and summary["frames"] == summary["injected"]["expected_pairs"]
    assert summary["fusion_metrics"]["EN"] > 0
    assert main(["replay", str(tmp_path / "b"), "--out", str(tmp_path / "o2"), "--no-progress",
                 "--set", "no_such_param=1"]) == 2


def test_the_main_job_in_small_runs_on_msrs_pairs(shared_root, tmp_path, capsys):
    """``scripts/main.sh`` in small: a bag of real MSRS pairs replayed through RisFuseNet, the default
    detector and referring, with texts from the bag and the command line; every output topic on every frame."""
    from ris_fusion_ros.cli import main

    bag, out = tmp_path / "bag", tmp_path / "out"
    assert main(["make-bag", "--dataset", "msrs", "--shared-root", str(shared_root), "--out", str(bag),
                 "--frames", "45", "--no-progress", "--text-at", "0.6:the car on the left",
                 "--text-at", "1.1:the warmest person"]) == 0
    assert main(["replay", str(bag), "--out", str(out), "--report", str(tmp_path / "report"), "--no-progress",
                 "--set", "thermal_offset_seconds=-0.12", "--text", "the person", "--metrics-every", "15"]) == 0
    summary = json.loads((tmp_path / "report" / "report.json").read_text())
    frames = summary["frames"]
    assert summary["injected"]["match"] is True and frames == summary["injected"]["expected_pairs"]
    assert set(summary["referring"]) == {"the person", "the car on the left", "the warmest person"}
    assert sum(t["matched"] for t in summary["referring"].values()) > 0
    for topic in ("/fused/image", "/detections", "/detections/markers", "/referring/result", "/referring/markers",
                  "/referring/overlay"):
        assert summary["outputs"][topic] == frames, topic
    assert sum(summary["detections"]["per_class"].values()) > 0
