"""Training samples for detector fine-tuning: fused frames with their boxes, letterboxed the way the
detector sees them at inference, plus scale / shift / flip / brightness jitter and four-frame mosaics
(seeded), optionally with objects of other frames pasted in (:mod:`.paste`).

A sample may carry the same scene rendered by several inputs (our fusion, other fusion methods,
visible, infrared): each draw then picks one of them, so the detector learns the objects rather than
one fusion method's look, and can be compared fairly across those inputs afterwards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...data.labels import label_folders, read_label_sets
from ...errors import ConfigError
from ..letterbox import FILL
from ..merge import extra_objects
from .paste import ObjectPool, paste_objects

MIN_BOX_SIDE = 2.0  # pixels; smaller remnants of cropped boxes are dropped
MIN_KEPT_AREA = 0.3  # share of a box that must stay inside the canvas


@dataclass
class Sample:
    """One labelled frame: uint8 RGB image, (N, 5) boxes ``coco_class_id, x1, y1, x2, y2`` in pixels;
    ``alternatives``: the same scene from other inputs (same size, same boxes); ``pseudo``: the boxes are a
    teacher's (:mod:`.pseudo`), rows of class -1 are ignore regions."""

    pair_id: str
    image: np.ndarray
    boxes: np.ndarray
    alternatives: tuple[np.ndarray, ...] = ()
    pseudo: bool = False

    def pick_index(self, rng: np.random.Generator | None) -> int:
        """Which rendering one draw shows: uniform over them when there are several and ``rng`` is given."""
        if rng is None or not self.alternatives:
            return 0
        return int(rng.integers(len(self.alternatives) + 1))

    def rendering(self, index: int) -> np.ndarray:
        """Rendering ``index`` (0 = the primary image); the primary one when the sample has fewer."""
        return self.alternatives[index - 1] if 0 < index <= len(self.alternatives) else self.image


def balance_weights(samples: Sequence[Sample], threshold: float) -> np.ndarray:
    """How often each sample is drawn relative to the others: max over its classes of max(1, sqrt(threshold / f)),
    f the share of the samples that contain the class (the repeat factor of Gupta et al., LVIS, CVPR 2019), so
    frames with rare classes come more often; 1 for every sample when ``threshold`` is 0."""
    if threshold < 0:
        raise ConfigError(f"the class-balance threshold must be >= 0, got {threshold}")
    classes = [set(int(c) for c in s.boxes[:, 0]) if len(s.boxes) else set() for s in samples]
    counts: dict[int, int] = {}
    for present in classes:
        for c in present:
            counts[c] = counts.get(c, 0) + 1
    n = max(1, len(samples))
    return np.array([max([1.0, *(np.sqrt(threshold / (counts[c] / n)) for c in present)]) for present in classes])


def draw_weights(samples: Sequence[Sample], balance: float, pseudo_share: float) -> np.ndarray | None:
    """How often each sample is drawn relative to the others, or None when every frame is drawn once per epoch.

    ``balance``: :func:`balance_weights` over the labelled frames; ``pseudo_share``: the share of all draws that go
    to pseudo-labelled frames (each of them equally often), so adding many of them does not drown the labelled ones.
    """
    pseudo = np.array([s.pseudo for s in samples], bool)
    if not 0.0 <= pseudo_share < 1.0:
        raise ConfigError(f"the pseudo-labelled share of the draws must be within [0, 1), got {pseudo_share}")
    if pseudo.all():
        raise ConfigError("every training sample is pseudo-labelled: self-training needs labelled frames too")
    if pseudo.any() and pseudo_share == 0:
        raise ConfigError("pseudo-labelled samples were given but their share of the draws is 0")
    if balance == 0 and not pseudo.any():
        return None
    weights = np.ones(len(samples))
    labelled = [s for s, p in zip(samples, pseudo, strict=True) if not p]
    weights[~pseudo] = balance_weights(labelled, balance) if balance > 0 else 1.0
    if pseudo.any():
        weights[pseudo] = pseudo_share / (1 - pseudo_share) * weights[~pseudo].sum() / pseudo.sum()
    return weights


def epoch_draws(samples: Sequence[Sample], pseudo_share: float) -> int:
    """Draws per epoch: one per labelled frame, plus the pseudo-labelled frames' share on top."""
    labelled = sum(1 for s in samples if not s.pseudo)
    return len(samples) if labelled == len(samples) else round(labelled / (1 - pseudo_share))


@dataclass(frozen=True)
class Augment:
    """Jitter ranges; ``plain_share`` of draws use the exact inference letterbox (no jitter but flips);
    ``mosaic`` of the other draws are four-frame mosaics (:func:`mosaic`), each frame scaled by
    ``mosaic_scale`` times its letterbox ratio; ``paste`` of the frames (mosaic tiles included) get up to
    ``paste_count`` objects of other frames pasted in (:func:`.paste.paste_objects`)."""

    scale: tuple[float, float] = (0.6, 1.5)
    brightness: tuple[float, float] = (0.7, 1.3)
    flip: float = 0.5
    plain_share: float = 0.3
    mosaic: float = 0.0
    mosaic_scale: tuple[float, float] = (0.5, 1.0)
    paste: float = 0.0
    paste_count: int = 3


def map_classes(boxes: np.ndarray, dataset_names: Sequence[str], model_names: Sequence[str]) -> np.ndarray:
    """Data-set class ids -> the detector's ids, by name; ConfigError for a class the model lacks."""
    lookup = {name: i for i, name in enumerate(model_names)}
    missing = sorted({dataset_names[int(c)] for c in boxes[:, 0]} - set(lookup))
    if missing:
        raise ConfigError(f"the detector has no class {missing} (it knows {len(model_names)} classes)")
    out = boxes.astype(np.float32).copy()
    if len(out):
        out[:, 0] = [lookup[dataset_names[int(c)]] for c in boxes[:, 0]]
    return out


def _shift_boxes(boxes: np.ndarray, ratio: float, left: float, top: float,
                 window: tuple[float, float, float, float]) -> np.ndarray:
    """Boxes scaled by ``ratio``, moved by (left, top), clipped to ``window`` (x0, y0, x1, y1); boxes left
    too small or with less than MIN_KEPT_AREA of themselves inside are dropped."""
    boxes = boxes.astype(np.float32).copy()
    if not len(boxes):
        return boxes.reshape(0, 5)
    boxes[:, 1:] = boxes[:, 1:] * ratio + np.array([left, top, left, top], np.float32)
    area = (boxes[:, 3] - boxes[:, 1]) * (boxes[:, 4] - boxes[:, 2])
    x0, y0, x1, y1 = window
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(x0, x1)
    boxes[:, [2, 4]] = boxes[:, [2, 4]].clip(y0, y1)
    bw, bh = boxes[:, 3] - boxes[:, 1], boxes[:, 4] - boxes[:, 2]
    keep = (bw >= MIN_BOX_SIDE) & (bh >= MIN_BOX_SIDE) & (bw * bh >= MIN_KEPT_AREA * np.maximum(area, 1e-6))
    return boxes[keep]


def _flip_and_brighten(out: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, augment: Augment,
                       brighten: bool) -> tuple[np.ndarray, np.ndarray]:
    if rng.random() < augment.flip:
        out = out[:, ::-1].copy()
        if len(boxes):
            boxes[:, [1, 3]] = out.shape[1] - boxes[:, [3, 1]]
    gain = float(rng.uniform(*augment.brightness))
    if brighten and gain != 1.0:
        out = np.clip(out.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return out, boxes


def _frame(sample: Sample, rng: np.random.Generator | None, augment: Augment | None,
           pool: ObjectPool | None) -> tuple[np.ndarray, np.ndarray]:
    """The rendering one draw shows and its boxes, with objects of other frames pasted in for a share
    ``augment.paste`` of draws when a pool is given (no random draw is spent on pasting otherwise)."""
    index = sample.pick_index(rng if augment is not None else None)
    image, boxes = sample.rendering(index), sample.boxes
    if augment is not None and pool is not None and augment.paste > 0 and rng.random() < augment.paste:
        image, boxes = paste_objects(image, boxes, index, pool, rng, int(rng.integers(1, augment.paste_count + 1)))
    return image, boxes


def mosaic(samples: Sequence[Sample], canvas: tuple[int, int], rng: np.random.Generator,
           augment: Augment, pool: ObjectPool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Four samples in the four corners around a random centre of the canvas (the YOLOv4/v5 mosaic,
    Bochkovskiy et al. 2020): more objects, at more scales and cut at more edges, per training image.

    Each frame is scaled to its letterbox ratio times ``augment.mosaic_scale`` and placed so that its
    inner corner touches the centre; what falls outside its quadrant is cut, boxes with it.
    """
    if len(samples) != 4:
        raise ConfigError(f"a mosaic needs 4 samples, got {len(samples)}")
    ch, cw = canvas
    cx = int(rng.uniform(0.25, 0.75) * cw)
    cy = int(rng.uniform(0.25, 0.75) * ch)
    out = np.full((ch, cw, 3), FILL, np.uint8)
    all_boxes = []
    for corner, sample in enumerate(samples):
        image, sample_boxes = _frame(sample, rng, augment, pool)
        h, w = image.shape[:2]
        ratio = min(ch / h, cw / w) * float(rng.uniform(*augment.mosaic_scale))
        nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
        right, bottom = corner % 2 == 1, corner >= 2
        left = cx if right else cx - nw
        top = cy if bottom else cy - nh
        window = (cx if right else 0, cy if bottom else 0, cw if right else cx, ch if bottom else cy)
        x0, y0 = max(window[0], left), max(window[1], top)
        x1, y1 = min(window[2], left + nw), min(window[3], top + nh)
        if x1 <= x0 or y1 <= y0:
            continue
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        out[y0:y1, x0:x1] = resized[y0 - top:y1 - top, x0 - left:x1 - left]
        all_boxes.append(_shift_boxes(sample_boxes, ratio, left, top, window))
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 5), np.float32)
    return _flip_and_brighten(out, boxes, rng, augment, True)


def draw(samples: Sequence[Sample], index: int, canvas: tuple[int, int], rng: np.random.Generator | None,
         augment: Augment | None, pool: ObjectPool | None = None,
         weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One training image: sample ``index`` placed (:func:`place`), or with probability ``augment.mosaic``
    among the jittered draws a mosaic of it and three random others (drawn by ``weights`` when given, uniformly
    otherwise); ``pool``: the objects pasting draws from."""
    if augment is not None and augment.mosaic > 0 and rng.random() >= augment.plain_share \
            and rng.random() < augment.mosaic:
        others = rng.integers(0, len(samples), 3) if weights is None else \
            rng.choice(len(samples), size=3, p=weights / weights.sum())
        return mosaic([samples[index]] + [samples[int(i)] for i in others], canvas, rng, augment, pool)
    return place(samples[index], canvas, rng, augment, pool)


def place(sample: Sample, canvas: tuple[int, int], rng: np.random.Generator | None,
          augment: Augment | None, pool: ObjectPool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The image pasted on a (height, width) canvas and its boxes moved with it.

    Without jitter this is exactly the centred letterbox the detector applies at inference;
    ``rng`` is only drawn from when ``augment`` is given.
    """
    ch, cw = canvas
    image, sample_boxes = _frame(sample, rng, augment, pool)
    h, w = image.shape[:2]
    ratio = min(ch / h, cw / w)
    jitter = augment is not None and rng.random() >= augment.plain_share
    if jitter:
        ratio *= float(rng.uniform(*augment.scale))
    nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
    if jitter:
        left = int(rng.integers(min(0, cw - nw), max(0, cw - nw) + 1))
        top = int(rng.integers(min(0, ch - nh), max(0, ch - nh) + 1))
    else:
        left, top = round((cw - nw) / 2 - 0.1), round((ch - nh) / 2 - 0.1)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)  # as at inference
    out = np.full((ch, cw, 3), FILL, np.uint8)
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(cw, left + nw), min(ch, top + nh)
    out[y0:y1, x0:x1] = resized[y0 - top:y1 - top, x0 - left:x1 - left]
    boxes = _shift_boxes(sample_boxes, ratio, left, top, (0, 0, cw, ch))
    if augment is not None:
        out, boxes = _flip_and_brighten(out, boxes, rng, augment, jitter)
    return out, boxes


def box_targets(boxes_per_image: Sequence[np.ndarray]):
    """(N, 5) class, x1, y1, x2, y2 per image -> (T, 6) tensor: image index, class, cx, cy, w, h."""
    import torch

    rows = [[index, c, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
            for index, boxes in enumerate(boxes_per_image) for c, x1, y1, x2, y2 in boxes]
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 6)


def collate(items: Sequence[tuple[np.ndarray, np.ndarray]]):
    """Images -> float tensor (B, 3, H, W) in [0, 1]; boxes -> :func:`box_targets`."""
    import torch

    images = torch.from_numpy(np.stack([im for im, _ in items]).transpose(0, 3, 1, 2).copy()).float() / 255.0
    return images, box_targets([boxes for _, boxes in items])


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def render_pair(pair, renderers: Sequence[Callable[[object], np.ndarray]]) -> list[np.ndarray]:
    """The pair rendered by each renderer, as RGB; ConfigError when their sizes disagree."""
    images = [_rgb(r(pair)) for r in renderers]
    if any(im.shape != images[0].shape for im in images):
        raise ConfigError(f"pair {pair.pair_id}: the inputs differ in size {[im.shape for im in images]}")
    return images


def build_samples(dataset, render: Callable[[object], np.ndarray] | Sequence[Callable[[object], np.ndarray]],
                  model_names: Sequence[str], progress=lambda items: items,
                  extra_labels: Sequence[str | Path] = ()) -> list[Sample]:
    """One :class:`Sample` per labelled pair of ``dataset``; ``render(pair)`` -> uint8 RGB or gray image.

    Several renderers give each sample alternatives (the first one is the primary image). ``extra_labels``:
    folders of other annotations of the same images (MSRS ``labels/ir``, ``labels/vi``; relative to the data
    set's root or absolute); their objects that
    the data set's labels lack are added, so an object one annotator left out is not taught as background.
    """
    renderers = [render] if callable(render) else list(render)
    if not renderers:
        raise ConfigError("build_samples needs at least one way to render a pair")
    folders = label_folders(dataset.root, extra_labels)
    samples = []
    for record in progress(dataset.records):
        pair = dataset.load(record)
        if record.label_path is None:
            raise ConfigError(f"pair {record.pair_id} has no label file under {dataset.root}: cannot train on it")
        images = render_pair(pair, renderers)
        boxes = pair.boxes.reshape(-1, 5)
        if folders:
            width, height = pair.size
            others = read_label_sets(folders, pair.pair_id, width, height)
            boxes = np.vstack([boxes, extra_objects(boxes, others)])
        samples.append(Sample(pair.pair_id, images[0], map_classes(boxes, dataset.class_names, model_names),
                              tuple(images[1:])))
    return samples
