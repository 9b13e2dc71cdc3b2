"""The training CSV log: header once, one line per row as it happens, a fresh file per run."""

import csv

import pytest

from ris_fusion_ros.core.io.csv_log import CsvLog


def test_rows_are_written_as_they_come_and_a_new_log_starts_the_file_afresh(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path)
    log.append({"epoch": 1, "loss": 0.5})
    assert path.read_text().splitlines() == ["epoch,loss", "1,0.5"]  # readable before the run ends
    log.append({"epoch": 2, "loss": 0.25})
    assert [r["loss"] for r in csv.DictReader(path.open())] == ["0.5", "0.25"] and log.last["epoch"] == 2
    with pytest.raises(ValueError, match="differ from the header"):
        log.append({"epoch": 3})
    CsvLog(path).append({"step": 7})
    assert path.read_text().splitlines() == ["step", "7"]
    with pytest.raises(ValueError, match="no row"):
        _ = CsvLog(tmp_path / "empty.csv").last
