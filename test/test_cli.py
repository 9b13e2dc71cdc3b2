"""The ris-fusion command end to end on a few real MSRS pairs, and its error handling."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ris_fusion_ros.cli import main
from ris_fusion_ros.core.evaluation.metrics import METRIC_NAMES

from conftest import REPO

SUMMARY_HEADER = ["method", "EN", "SD", "SF", "AG", "MI_nats", "MI_bits", "SCD", "CC", "VIF", "Qabf", "Nabf",
                  "SSIM", "ms_per_frame"]


def test_eval_fusion_writes_csvs_report_plot_and_fused_images(shared_root, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["--no-progress", "eval", "fusion", "--dataset", "msrs", "--split", "dev", "--limit", "3",
                 "--methods", "average,max", "--save-fused", "--out", str(out)])
    assert code == 0
    with (out / "summary.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == SUMMARY_HEADER
    assert [r[0] for r in rows[1:]] == ["average", "max"]
    with (out / "per_image.csv").open() as handle:
        per_image = list(csv.DictReader(handle))
    assert len(per_image) == 6
    # the summary is the mean of the per-image rows
    for method, summary_row in zip(("average", "max"), rows[1:], strict=True):
        values = [float(r["VIF"]) for r in per_image if r["method"] == method]
        assert float(summary_row[SUMMARY_HEADER.index("VIF")]) == pytest.approx(np.mean(values), rel=1e-5)
    # max fusion keeps more of both sources than averaging on these metrics (reference table agrees)
    summary = {r[0]: dict(zip(SUMMARY_HEADER, r, strict=True)) for r in rows[1:]}
    for metric in ("EN", "SD", "MI_nats", "VIF", "Qabf"):
        assert float(summary["max"][metric]) > float(summary["average"][metric]), metric
    report = (out / "report.md").read_text()
    assert "| method | EN |" in report and "pairs evaluated: 3" in report and "SSIM: 7x7" in report
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fused = sorted((out / "fused" / "max").glob("*.png"))
    assert len(fused) == 3 and Image.open(fused[0]).size == (640, 480)
    assert "| average |" in capsys.readouterr().out


def test_config_file_is_read_and_typos_are_rejected(shared_root, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("eval_fusion:\n  methods: [max]\n  ssim: {combine: mean, data_range: 255.0}\n")
    assert main(["eval", "fusion", "--config", str(config), "--limit", "1", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    report = (tmp_path / "o" / "report.md").read_text()
    assert "| max |" in report and "| average |" not in report and "mean over sources" in report
    config.write_text("eval_fusion:\n  method: [max]\n")
    assert main(["eval", "fusion", "--config", str(config), "--out", str(tmp_path / "o2")]) == 2
    assert "unknown key(s) ['method']" in capsys.readouterr().err


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    assert main(["eval", "fusion", "--dataset", "msrs", "--data-root", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "data folder for 'msrs' not found" in capsys.readouterr().err
    assert main(["eval", "fusion", "--methods", "magic", "--out", str(tmp_path / "o")]) == 2
    assert "unknown fusion method 'magic'" in capsys.readouterr().err


def test_data_check_reports_every_broken_pair(write_pair_folder, capsys):
    good = (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8))
    root = write_pair_folder({"a": good, "b": (np.zeros((4, 4), np.uint8), np.zeros((5, 5, 3), np.uint8)), "c": good})
    (root / "vi" / "c.png").write_bytes(b"\x89PNG broken")
    assert main(["data", "check", "--dataset", "tno", "--data-root", str(root), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "size mismatch in pair 'b'" in out and "cannot read image" in out and "2 problem(s)" in out


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "ris_fusion_ros", "--help"], capture_output=True, text=True,
                         cwd=REPO, check=True)
    assert "data" in out.stdout and "eval" in out.stdout


def test_metric_names_match_the_summary_columns():
    assert list(METRIC_NAMES) == SUMMARY_HEADER[1:-1]


def test_scoring_earlier_fused_images_gives_the_same_summary(shared_root, tmp_path):
    first = tmp_path / "first"
    assert main(["--no-progress", "eval", "fusion", "--limit", "2", "--methods", "max,average", "--save-fused",
                 "--out", str(first)]) == 0
    # max is taken from the earlier run, average is missing there and fused again
    (first / "fused" / "average").rename(tmp_path / "moved")
    second = tmp_path / "second"
    assert main(["--no-progress", "eval", "fusion", "--limit", "2", "--methods", "max,average",
                 "--fused-from", str(first), "--out", str(second)]) == 0
    def metrics(path):
        with path.open() as handle:
            return [r[:-1] for r in csv.reader(handle)]   # all but ms_per_frame
    assert metrics(first / "summary.csv") == metrics(second / "summary.csv")
    report = (second / "report.md").read_text()
    assert "2 images read from the earlier run, 0 fused here" in report
    assert "0 images read from the earlier run, 2 fused here" in report
    with (second / "summary.csv").open() as handle:
        rows = {r["method"]: r for r in csv.DictReader(handle)}
    assert rows["max"]["ms_per_frame"] == "nan" and float(rows["average"]["ms_per_frame"]) > 0


def test_several_datasets_one_postprocessing_and_speed_in_one_run(shared_root, tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["--no-progress", "eval", "fusion", "--dataset", "msrs,tno", "--split", "msrs=dev", "--limit", "2",
                 "--methods", "max,average", "--postprocessing", "rgb-minmax", "--speed-runs", "2",
                 "--out", str(out)]) == 0
    for name in ("msrs", "tno"):
        assert (out / name / "summary.csv").is_file() and (out / name / "summary.png").is_file()
        assert "same `rgb-minmax` post-processing" in (out / name / "report.md").read_text()
    with (out / "speed.csv").open() as handle:
        speed = list(csv.DictReader(handle))
    assert [r["method"] for r in speed] == ["max", "average"]
    assert all(int(r["width"]) == 640 and int(r["height"]) == 480 and float(r["median_ms"]) > 0 for r in speed)
    benchmark = (out / "benchmark.md").read_text()
    assert "## MSRS" in benchmark.upper() and "## Speed" in benchmark and "`rgb-minmax`" in benchmark
    # a split without its data set name is ambiguous with several data sets
    assert main(["eval", "fusion", "--dataset", "msrs,tno", "--split", "dev", "--out", str(tmp_path / "x")]) == 2
    assert "dataset=split" in capsys.readouterr().err


def test_minmax_stretch_is_the_identity_on_full_range_images_and_stretches_others():
    from ris_fusion_ros.core.fusion.postprocess import postprocess

    full = np.array([[[0, 10, 255]]], dtype=np.uint8)
    assert postprocess(full, "rgb-minmax") is full
    narrow = np.array([[[50, 100, 150]]], dtype=np.uint8)
    assert postprocess(narrow, "rgb-minmax").tolist() == [[[0, 128, 255]]]
    assert postprocess(narrow, "none") is narrow


def test_benchmark_config_names_every_peer_three_datasets_and_clean_splits():
    import argparse

    from ris_fusion_ros.commands.eval_fusion import _settings
    from ris_fusion_ros.core.fusion import available_methods

    args = argparse.Namespace(config=str(REPO / "config" / "benchmark_fusion.yaml"), dataset=None, data_root=None,
                              split=None, postprocessing=None, speed_runs=None, speed_size=None, methods=None,
                              save_fused=False, **{f"ssim_{k}": None for k in ("window", "win_size", "combine",
                                                                               "data_range")})
    settings = _settings(args)
    assert settings["datasets"] == ["msrs", "tno", "roadscene"]
    assert settings["splits"] == {"msrs": "dev", "tno": None, "roadscene": "cddfuse_test50"}
    assert set(settings["methods"]) == set(available_methods())
    assert settings["postprocessing"] == "rgb-minmax" and settings["speed_runs"] > 0


def test_bench_live_passes_node_parameters_as_ros_arguments_and_names_a_malformed_one():
    from ris_fusion_ros.commands.bench_live import ros_params
    from ris_fusion_ros.core.errors import ConfigError

    assert ros_params(["detection_node:threads:=1", "detector:=yolox-nano"]) == [
        "-p", "detection_node:threads:=1", "-p", "detector:=yolox-nano"]
    assert ros_params([]) == []
    for bad in ("threads=1", ":=3"):
        with pytest.raises(ConfigError, match="--param takes"):
            ros_params([bad])
