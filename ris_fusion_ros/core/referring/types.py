"""What the referring step returns for one text on one frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..detection.types import Detection


@dataclass(eq=False)
class ReferredSelection:
    """The objects a text refers to, their union mask, and why.

    ``selected`` indexes ``detections``; ``mask`` is uint8 HxW (255 inside the referred
    objects, 0 elsewhere). ``no_match`` is True (and the mask empty) when the text names
    nothing in the frame — never a guess. ``score`` is the confidence in [0, 1].
    ``classes``: the detector classes the text asked for (empty: any class). ``considered``: the
    detections the text was matched against at the operating score (thermally checked, >= ``min_score``;
    a second look may select below it).
    """

    text: str
    mask: np.ndarray
    detections: list[Detection]
    selected: list[int] = field(default_factory=list)
    no_match: bool = False
    score: float = 0.0
    explanation: str = ""
    referring_scores: list[float] = field(default_factory=list)
    classes: tuple[str, ...] = ()
    considered: list[int] = field(default_factory=list)
