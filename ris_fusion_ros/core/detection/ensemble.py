"""Several detectors on one frame as one: their detections fused by weighted box fusion (:mod:`.merge`).

Models trained alike but from different seeds miss different objects. Fused, an object every model finds
keeps its mean score, one only some models find is scored down in proportion, and the boxes are averaged
by score. On the 48 held-out MSRS images two seeds of the 800 px fine-tuned YOLOv5n give mAP50 0.815 and
0.808 alone, 0.834 fused (README, "Detector ensembles"). Named ``a.onnx+b.onnx`` wherever a detector
name is taken; it costs one detector run per member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from .merge import DEFAULT_MERGE_IOU, fuse_by_class
from .types import Detection, detect_many

SEPARATOR = "+"


def ensemble_members(name: str) -> list[str]:
    """The member names of an ensemble name (``a.onnx+b.onnx``); one element for a single detector."""
    parts = [part.strip() for part in str(name).split(SEPARATOR)]
    if len(parts) > 1 and not all(parts):
        raise ConfigError(f"detector ensemble '{name}' has an empty member; write it as a.onnx{SEPARATOR}b.onnx")
    return parts


class EnsembleDetector:
    """The :class:`~.detector.Detector` interface over several members with the same classes.

    ``conf`` keeps its meaning for the fused output (detections scoring >= ``conf``); each member looks
    down to ``conf`` over the number of members, so an object only one member finds can still reach it.
    """

    def __init__(self, members: Sequence[Any], conf: float, iou_threshold: float = DEFAULT_MERGE_IOU) -> None:
        if len(members) < 2:
            raise ConfigError(f"a detector ensemble needs at least two members, got {len(members)}")
        names = list(members[0].class_names)
        for member in members[1:]:
            if list(member.class_names) != names:
                raise ConfigError(f"detector ensemble: {member.name} has other classes than {members[0].name} "
                                  f"({len(member.class_names)} vs {len(names)}); members must share one class list")
        if not 0.0 <= float(conf) <= 1.0:
            raise ConfigError(f"detector conf threshold must be in [0, 1], got {conf}")
        self.members = list(members)
        self.conf = float(conf)
        self.iou_threshold = float(iou_threshold)
        self.class_names: list[str] = names
        self.name = SEPARATOR.join(m.name for m in self.members)
        self.model_path = SEPARATOR.join(str(m.model_path or m.name) for m in self.members)

    @property
    def segmentation(self) -> bool:
        return any(m.segmentation for m in self.members)

    def detect(self, image: Any, conf: float | None = None) -> list[Detection]:
        """The members' detections of ``image`` fused per class, highest score first, scores >= ``conf``."""
        return self.detect_many([image], conf)[0]

    def detect_many(self, images: Sequence[Any], conf: float | None = None) -> list[list[Detection]]:
        """:meth:`detect` for each of ``images``; each member runs them batched (:func:`.types.detect_many`)."""
        floor = self.conf if conf is None else float(conf)
        per_member = [detect_many(m, images, floor / len(self.members)) for m in self.members]
        results = []
        for index in range(len(images)):
            streams = [member_results[index] for member_results in per_member]
            fused = fuse_by_class(streams, {d.class_name for stream in streams for d in stream}, self.iou_threshold)
            results.append(sorted((d for d in fused if d.score >= floor), key=lambda d: -d.score))
        return results

    def fed_size(self, image: Any) -> tuple[int, int]:
        """(height, width) the first member feeds the network for ``image`` (the members' sizes are listed
        by :meth:`info`)."""
        return self.members[0].fed_size(image)

    def info(self) -> dict[str, Any]:
        first = self.members[0].info()
        sizes = sorted({m.info()["input_size"] for m in self.members})
        return first | {"model": self.name, "path": self.model_path, "members": len(self.members),
                        "input_size": ", ".join(sizes), "conf": self.conf,
                        "merge": f"weighted box fusion, IoU >= {self.iou_threshold:g}"}

    def close(self) -> None:
        for member in self.members:
            member.close()
