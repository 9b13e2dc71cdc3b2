"""Copy-paste of labelled objects between training frames, with boxes instead of masks.

Simple Copy-Paste (Ghiasi et al., CVPR 2021) and Cut, Paste and Learn (Dwibedi et al., ICCV 2017) show that
pasting objects from other images lifts recall most for rare classes. Here the labels are boxes, so an object
travels with a thin margin of its own surroundings and is feathered into the new frame. It keeps its height in
the image (the same camera rig films every frame, so the height sets its apparent size) and moves sideways, maybe
mirrored. Objects are drawn class-balanced: a class uniformly, then one of its objects, so a bicycle (in a third
of the MSRS frames) is pasted as often as a person. Labelled objects the cut region touches travel with it (a
bicycle with its rider), and nothing is pasted over a labelled object of the frame, so no object is taught as
background.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConfigError
from ..nms import box_intersection

if TYPE_CHECKING:
    from .samples import Sample

TOUCH_SHARE = 0.1  # a source box with more of itself in the cut region than this travels with it (region grown)
MAX_OVERLAP = 0.2  # a paste may cover at most this share of a labelled box of the frame, and the reverse
GROW_ROUNDS = 3  # growing the region to take in touched boxes; still cutting one after this: no paste


def covered_share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M): the share of each box of ``a`` (x1, y1, x2, y2 rows) that lies inside each box of ``b``."""
    inter, area_a, _ = box_intersection(a, b)
    return inter / area_a.clip(1e-6)[:, None]


class ObjectPool:
    """Every labelled object of the training samples, drawn class-balanced."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self.samples = samples
        by_class: dict[int, list[tuple[int, int]]] = {}
        for s, sample in enumerate(samples):
            for r, row in enumerate(sample.boxes):
                if row[0] < 0:
                    continue  # an ignore region of a pseudo-labelled frame is no object to paste
                by_class.setdefault(int(row[0]), []).append((s, r))
        if not by_class:
            raise ConfigError("copy-paste needs labelled objects, and the training samples have none")
        self.classes = sorted(by_class)
        self.by_class = by_class

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """(sample index, box row): a class uniformly, then one of its objects uniformly."""
        objects = self.by_class[self.classes[int(rng.integers(len(self.classes)))]]
        return objects[int(rng.integers(len(objects)))]


def cut_region(boxes: np.ndarray, row: int, size: tuple[int, int],
               context: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The integer region (x1, y1, x2, y2) cut around box ``row`` (a margin of ``context`` times its longer side,
    at least 2 px, inside the ``size`` (width, height) frame) and the rows of ``boxes`` inside it; grown to take
    in every labelled box it touches, None when it still cuts one after GROW_ROUNDS."""
    width, height = size
    x1, y1, x2, y2 = boxes[row, 1:]
    margin = max(2.0, context * max(x2 - x1, y2 - y1))
    region = np.array([x1 - margin, y1 - margin, x2 + margin, y2 + margin])
    for _ in range(GROW_ROUNDS + 1):
        region = np.array([max(0, np.floor(region[0])), max(0, np.floor(region[1])),
                           min(width, np.ceil(region[2])), min(height, np.ceil(region[3]))])
        share = covered_share(boxes[:, 1:], region)[:, 0]
        touched = share > TOUCH_SHARE
        if (share[touched] >= 0.999).all():
            return region.astype(int), boxes[touched]
        inner = boxes[touched, 1:]
        region = np.concatenate([np.minimum(region[:2], inner[:, :2].min(0)),
                                 np.maximum(region[2:], inner[:, 2:].max(0))])
    return None


def feather(height: int, width: int, ramp: float) -> np.ndarray:
    """(height, width, 1) weights: 1 inside, falling linearly to 0 over ``ramp`` pixels towards every edge."""
    ys = np.minimum(np.arange(height) + 0.5, height - np.arange(height) - 0.5)
    xs = np.minimum(np.arange(width) + 0.5, width - np.arange(width) - 0.5)
    return (np.minimum(ys[:, None], xs[None, :]) / max(ramp, 1.0)).clip(0, 1)[..., None].astype(np.float32)


def paste_objects(image: np.ndarray, boxes: np.ndarray, rendering: int, pool: ObjectPool, rng: np.random.Generator,
                  attempts: int, context: float = 0.15, shift: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with up to ``attempts`` objects of other frames pasted in (the same input ``rendering``, same
    frame size), and ``boxes`` (N, 5) with theirs added; an attempt that would cover a labelled object, or whose
    object cannot be cut cleanly, pastes nothing."""
    height, width = image.shape[:2]
    out, kept = image, np.asarray(boxes, np.float32).reshape(-1, 5)
    for _ in range(attempts):
        s, r = pool.draw(rng)
        source = pool.samples[s]
        picture = source.rendering(rendering)
        if picture.shape != image.shape:
            continue
        cut = cut_region(source.boxes, r, (width, height), context)
        if cut is None:
            continue
        (x1, y1, x2, y2), carried = cut
        dx = int(np.clip(round(rng.uniform(-shift, shift) * width), -x1, width - x2))
        mirror = bool(rng.random() < 0.5)
        moved = carried.astype(np.float32).copy()
        if mirror:
            moved[:, [1, 3]] = x1 + x2 - carried[:, [3, 1]]
        moved[:, [1, 3]] += dx
        target = np.array([x1 + dx, y1, x2 + dx, y2], np.float64)
        if len(kept) and (covered_share(kept[:, 1:], target).max() > MAX_OVERLAP
                          or covered_share(moved[:, 1:], kept[:, 1:]).max() > MAX_OVERLAP):
            continue
        patch = picture[y1:y2, x1:x2]
        if mirror:
            patch = patch[:, ::-1]
        side = max(source.boxes[r, 3] - source.boxes[r, 1], source.boxes[r, 4] - source.boxes[r, 2])
        weight = feather(y2 - y1, x2 - x1, context * side / 2)  # the object itself stays at weight 1
        if out is image:
            out = image.copy()
        below = out[y1:y2, x1 + dx:x2 + dx].astype(np.float32)
        out[y1:y2, x1 + dx:x2 + dx] = (weight * patch + (1 - weight) * below + 0.5).astype(np.uint8)
        kept = np.vstack([kept, moved])
    return out, kept

