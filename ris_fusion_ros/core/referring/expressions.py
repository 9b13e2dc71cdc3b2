"""Referring expression files: reading/validating, the train/validation image split, and the
conversion of the hand-written held-out set into JSON.

File format: a JSON list of objects with at least ``"image"`` (a data-set id) and ``"text"``;
optional ``"boxes"`` (ground truth, pixel ``[x1, y1, x2, y2]``, empty list = no match) and
``"type"``; other keys are kept and ignored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import DataError

#: One in five dev images (by id hash) is a validation image: never used to build or tune the parser.
VALIDATION_MODULUS = 5


def is_validation_image(pair_id: str) -> bool:
    """Deterministic image split shared by the generator and the held-out set."""
    return int(hashlib.sha1(pair_id.encode("utf-8")).hexdigest(), 16) % VALIDATION_MODULUS == 0


def load_expressions(path: str | Path) -> list[dict[str, Any]]:
    """Read and check an expression file; DataError names the entry and field at fault."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read expression file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of expressions, got {type(data).__name__}")
    for index, entry in enumerate(data):
        where = f"{path} entry {index}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object, got {type(entry).__name__}")
        for key in ("image", "text"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise DataError(f"{where}: '{key}' must be a non-empty string")
        if "boxes" in entry:
            boxes = entry["boxes"]
            if not isinstance(boxes, list) or not all(
                    isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b) for b in boxes):
                raise DataError(f"{where}: 'boxes' must be a list of [x1, y1, x2, y2] pixel boxes")
            if any(b[2] <= b[0] or b[3] <= b[1] for b in boxes):
                raise DataError(f"{where}: a box has x2 <= x1 or y2 <= y1: {boxes}")
    return data


def write_expressions(path: str | Path, entries: list[dict[str, Any]]) -> None:
    """One entry per line: small diffs, readable files."""
    lines = ",\n".join("  " + json.dumps(entry, ensure_ascii=False) for entry in entries)
    Path(path).write_text("[\n" + lines + "\n]\n", encoding="utf-8")


def read_handwritten(path: str | Path) -> list[tuple[str, str, str, list[int]]]:
    """Lines ``id | type | text | indices`` (``-`` = no match) of the hand-written held-out set."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4:
            raise DataError(f"{path}:{number}: expected 'id | type | text | indices', got {line!r}")
        pair_id, kind, text, indices = parts
        try:
            targets = [] if indices == "-" else [int(v) for v in indices.split()]
        except ValueError:
            raise DataError(f"{path}:{number}: indices must be integers or '-': {indices!r}") from None
        rows.append((pair_id, kind, text, targets))
    return rows
