"""Pseudo-labelled training frames for detector self-training: pairs of unlabelled data sets (the fusion
training sets) labelled by a teacher detector, so the student sees more scenes than the labelled split holds.

Self-training with a confident teacher (Xie et al., "Self-training with Noisy Student", CVPR 2020; for
detection, Sohn et al., "A Simple Semi-Supervised Learning Framework for Object Detection", 2020): the teacher
runs on the fused frame and on the infrared frame, merged like the referring's thermal stream (people from
both, :func:`..merge.merge_streams`), so a box both views agree on keeps its score and a box one view saw keeps
half of it. Boxes scoring ``>= label_score`` become labels; boxes between ``ignore_score`` and ``label_score``
become ignore regions (rows of class :data:`IGNORE_CLASS`): the teacher is unsure there, so the student is
neither taught an object nor background at those cells (the YOLOX loss skips their objectness).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...errors import ConfigError
from ..merge import merge_streams, stream_floor
from ..types import Detection, detect_many
from .samples import Sample, render_pair

#: Class id of an ignore region in a sample's boxes: no object is taught there, and no background either.
IGNORE_CLASS = -1
LABEL_SCORE = 0.5
IGNORE_SCORE = 0.2


def pseudo_boxes(detections: Sequence[Detection], model_names: Sequence[str], classes: Sequence[str],
                 label_score: float = LABEL_SCORE, ignore_score: float = IGNORE_SCORE) -> np.ndarray:
    """(N, 5) rows ``class_id, x1, y1, x2, y2`` in the student's class ids for the teacher's detections of
    ``classes``: ``>= label_score`` labelled, ``[ignore_score, label_score)`` as :data:`IGNORE_CLASS`."""
    if not 0.0 <= ignore_score <= label_score <= 1.0:
        raise ConfigError(f"pseudo-labels need 0 <= ignore score <= label score <= 1, got {ignore_score} and "
                          f"{label_score}")
    lookup = {name: i for i, name in enumerate(model_names)}
    missing = sorted(set(classes) - set(lookup))
    if missing:
        raise ConfigError(f"the detector being trained has no class {missing}")
    rows = [[lookup[d.class_name] if d.score >= label_score else IGNORE_CLASS, *d.box]
            for d in detections if d.class_name in classes and d.score >= ignore_score]
    return np.asarray(rows, np.float32).reshape(-1, 5)


class Teacher:
    """A detector labelling a frame from its fused rendering and its infrared image (thermal stream merge)."""

    def __init__(self, detector, label_score: float = LABEL_SCORE, ignore_score: float = IGNORE_SCORE) -> None:
        self.detector = detector
        self.label_score, self.ignore_score = label_score, ignore_score
        self.floor = stream_floor(ignore_score, True)  # merged boxes keep the mean of their two streams' scores

    def detections(self, fused: np.ndarray, infrared: np.ndarray) -> list[Detection]:
        ir = np.repeat(infrared[..., None], 3, axis=2) if infrared.ndim == 2 else infrared
        on_fused, on_ir = detect_many(self.detector, [fused, ir], self.floor)
        return merge_streams(on_fused, on_ir)

    def boxes(self, fused: np.ndarray, infrared: np.ndarray, model_names: Sequence[str],
              classes: Sequence[str]) -> np.ndarray:
        return pseudo_boxes(self.detections(fused, infrared), model_names, classes, self.label_score,
                            self.ignore_score)


def pseudo_samples(dataset, renderers: Sequence[Callable[[object], np.ndarray]], teacher: Teacher,
                   model_names: Sequence[str], classes: Sequence[str],
                   progress=lambda items: items) -> list[Sample]:
    """One pseudo-labelled :class:`Sample` per pair of ``dataset`` (its own labels, if any, are not read).
    The teacher looks at the first rendering (a fused frame) and at the pair's infrared image."""
    samples = []
    for record in progress(dataset.records):
        pair = dataset.load(record)
        images = render_pair(pair, renderers)
        boxes = teacher.boxes(images[0], pair.ir, model_names, classes)
        samples.append(Sample(f"{dataset.spec.name}/{pair.pair_id}", images[0], boxes, tuple(images[1:]),
                              pseudo=True))
    return samples


def pseudo_summary(samples: Sequence[Sample]) -> dict[str, int]:
    """How many frames, labels and ignore regions the pseudo-labelled samples hold (for the training record)."""
    pseudo = [s for s in samples if s.pseudo]
    labels = sum(int((s.boxes[:, 0] >= 0).sum()) for s in pseudo)
    ignored = sum(int((s.boxes[:, 0] == IGNORE_CLASS).sum()) for s in pseudo)
    framed = sum(1 for s in pseudo if (s.boxes[:, 0] >= 0).any())
    return {"frames": len(pseudo), "frames_with_labels": framed, "labels": labels, "ignore_regions": ignored}
