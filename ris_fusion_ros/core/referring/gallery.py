"""One picture of the wrong referring answers: what the text asked, what was labelled, what was picked.

A person sees at a glance whether an error is a missed object, a false one or a different pick; the
tiles follow the order of the expression file, on the visible image of each pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from ..data import PairDataset, read_visible
from ..pipeline.overlay import REFERRED_COLOR, draw_label
from .instances import detections_from_boxes

TILE_WIDTH = 426  # two thirds of a 640-pixel frame: three tiles side by side stay readable
COLUMNS = 3
TRUTH_COLOR = (0, 230, 0)  # the expression's labelled answer
LABELLED_COLOR = (255, 255, 255)  # other labelled objects of the classes the text names
INSTANCE_COLOR = (255, 210, 0)  # the instances the referrer saw (its candidates)
CAPTION_HEIGHT = 40
LEGEND = "green: labelled answer, magenta: picked, yellow: instances seen, white: other labelled objects"


def _box(image: np.ndarray, box: Sequence[float], color: tuple[int, int, int], thickness: int) -> None:
    x1, y1, x2, y2 = (round(float(v)) for v in box[:4])
    cv2.rectangle(image, (x1, y1), (x2, y2), color, thickness)


def error_tile(visible: np.ndarray, row: Mapping[str, Any], prediction: Mapping[str, Any],
               truth: Sequence[Sequence[float]], labelled: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """One wrong answer drawn on its visible image, scaled to :data:`TILE_WIDTH`, with a two-line caption."""
    image = np.ascontiguousarray(visible, dtype=np.uint8).copy()
    named = set(prediction.get("named", ()))
    for obj in detections_from_boxes(labelled, list(class_names)):
        if not named or obj.class_name in named:
            _box(image, obj.box, LABELLED_COLOR, 1)
    for candidate in prediction.get("candidates", ()):
        _box(image, candidate, INSTANCE_COLOR, 1)
    for box in truth:
        _box(image, box, TRUTH_COLOR, 2)
    for box in prediction.get("boxes", ()):
        _box(image, box, REFERRED_COLOR, 2)
    height = round(image.shape[0] * TILE_WIDTH / image.shape[1])
    tile = np.zeros((height + CAPTION_HEIGHT, TILE_WIDTH, 3), np.uint8)
    tile[:height] = cv2.resize(image, (TILE_WIDTH, height), interpolation=cv2.INTER_AREA)
    outcome = "no match" if prediction.get("empty") else f"IoU {float(row.get('iou', 0.0)):.2f}"
    why = f"; {row['cause']}" if row.get("cause") else ""
    draw_label(tile, f"#{row['index']} {row['image']} {row['type']}: {row['text']}"[:58], 0, height + 17,
               (255, 255, 255))
    draw_label(tile, f"{outcome}{why}", 0, height + 36, (200, 200, 200))
    return tile


def error_gallery(dataset: PairDataset, rows: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]],
                  expressions: Sequence[Mapping[str, Any]], labels: Mapping[str, np.ndarray],
                  limit: int) -> np.ndarray | None:
    """The first ``limit`` wrong answers as a grid of :func:`error_tile` (None when none is wrong)."""
    wrong = [r for r in rows if not r["correct"]][:max(0, limit)]
    if not wrong:
        return None
    records = {r.pair_id: r for r in dataset.records}
    visible: dict[str, np.ndarray] = {}
    tiles = []
    for row in wrong:
        pair_id = row["image"]
        if pair_id not in visible:
            visible[pair_id] = read_visible(records[pair_id].vi_path)
        index = int(row["index"])
        tiles.append(error_tile(visible[pair_id], row, predictions[index], expressions[index].get("boxes", []),
                                labels.get(pair_id, np.zeros((0, 5))), dataset.class_names))
    height = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % COLUMNS)
    grid = np.vstack([np.hstack(tiles[i:i + COLUMNS]) for i in range(0, len(tiles), COLUMNS)])
    legend = np.zeros((24, grid.shape[1], 3), np.uint8)
    draw_label(legend, LEGEND, 0, 20, (255, 255, 255))
    return np.vstack([legend, grid])
