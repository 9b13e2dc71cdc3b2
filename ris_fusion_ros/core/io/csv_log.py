"""One CSV row per training step or epoch, written as it happens so a long run can be followed
(``tail -f``) and a run cut off still leaves its curve; used by fusion and detector training."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class CsvLog:
    """Appends rows to ``path``; the first row's keys are the header (the file is started afresh)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []

    def append(self, row: dict[str, Any]) -> None:
        first = not self.rows
        if not first and list(row) != list(self.rows[0]):
            raise ValueError(f"{self.path}: row keys {list(row)} differ from the header {list(self.rows[0])}")
        with self.path.open("w" if first else "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if first:
                writer.writeheader()
            writer.writerow(row)
        self.rows.append(row)

    @property
    def last(self) -> dict[str, Any]:
        if not self.rows:
            raise ValueError(f"{self.path}: no row written yet")
        return self.rows[-1]
