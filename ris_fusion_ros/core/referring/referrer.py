"""The public referring API: ``Referrer().refer(text, detections, (W, H), thermal) -> ReferredSelection``."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence

import numpy as np

from ..detection.types import OPERATING_SCORE, Detection
from ..errors import ConfigError, DataError
from .categories import DEFAULT_THRESHOLD, CategoryResolver
from .masks import union_mask
from .parser import Parser, Query
from .select import Frame, Outcome, execute
from .thermal_check import ThermalCheck
from .types import ReferredSelection
from .weighing import validate_margin, weigh

#: Detections at or above this score are the instances a text is matched against first.
DEFAULT_MIN_SCORE = OPERATING_SCORE
#: The second look: when a text naming a category matched nothing among the confident detections, it is
#: matched again against detections down to this score. Chosen on the training expressions (0.05, 0.1 and
#: 0.15 tie there; the highest was kept): held-out acc@0.5 0.749 -> 0.766, no-match accuracy 0.982 -> 0.964.
DEFAULT_SECOND_LOOK_SCORE = 0.15


def validate_scores(min_score: float, second_look_score: float | None) -> tuple[float, float | None]:
    """Both floors as floats within [0, 1]; a second-look floor at or above ``min_score`` means off (None)."""
    min_score = float(min_score)
    if not 0.0 <= min_score <= 1.0:
        raise ConfigError(f"min_score must be within [0, 1], got {min_score}")
    if second_look_score is None:
        return min_score, None
    second = float(second_look_score)
    if not 0.0 <= second <= 1.0:
        raise ConfigError(f"second_look_score must be within [0, 1], got {second}")
    return min_score, (second if second < min_score else None)


def candidate_floor(min_score: float, second_look_score: float | None, score_margin: float = 0.0) -> float:
    """The lowest detection score the referrer looks at (the second-look floor when it is on, the bottom of
    the score margin when that is lower)."""
    floor = float(min_score) - float(score_margin)
    return max(0.0, min(floor, float(second_look_score) if second_look_score is not None else floor))


class Referrer:
    """Referring segmentation over one frame's detections.

    Parsing is cached per text (an operator's text applies to every following frame), so the
    per-frame cost is the geometry and the mask. The sentence encoder loads on the first text
    that needs it (a noun outside the lexicon), once per process.

    Detections below ``min_score`` are only looked at in the second look: a text that names a category
    and matched nothing among the confident detections is matched again down to ``second_look_score``
    (a missed person is more often a low-scored one than an absent one). Give the referrer the detector's
    output down to the second-look floor for it to work; ``second_look_score`` None (or >= ``min_score``)
    turns it off.

    ``score_margin`` m > 0 weighs the detections of the text's classes scoring within ``min_score`` +- m as
    uncertain and returns the answer most probable over which of them are real (``weighing.py``); give the
    referrer the detector's output down to ``min_score - m``. 0 = the hard floor.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, cache_size: int = 256,
                 thermal_check: ThermalCheck | None = None, min_score: float = DEFAULT_MIN_SCORE,
                 second_look_score: float | None = DEFAULT_SECOND_LOOK_SCORE, score_margin: float = 0.0) -> None:
        self.parser = Parser(CategoryResolver(threshold))
        self.thermal_check = thermal_check or ThermalCheck()
        self.min_score, self.second_look_score = validate_scores(min_score, second_look_score)
        self.score_margin = validate_margin(score_margin)
        self._cache: OrderedDict[str, Query] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def parse(self, text: str) -> Query:
        """The cached query of a text (normalised by whitespace and case)."""
        key = " ".join(text.lower().split())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        query = self.parser.parse(key)
        with self._lock:
            self._cache[key] = query
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return query

    def refer(self, text: str, detections: Sequence[Detection], image_size: tuple[int, int],
              thermal: np.ndarray | None = None) -> ReferredSelection:
        """The objects ``text`` refers to among ``detections`` and their union mask.

        ``image_size`` is (width, height); ``thermal`` (uint8 HxW, registered to the frame) is
        needed for thermal attributes and box-prompted masks. No match gives an empty mask and
        ``no_match=True``.
        """
        width, height = _check_size(image_size)
        if thermal is not None:
            thermal = np.asarray(thermal)
            if thermal.ndim == 3 and thermal.shape[2] == 1:
                thermal = thermal[:, :, 0]
            if thermal.shape != (height, width):
                raise DataError(f"thermal image is {thermal.shape}, expected {height}x{width} (HxW, one channel)")
            if thermal.dtype != np.uint8:
                raise DataError(f"thermal image must be uint8, got {thermal.dtype}")
        detections = list(detections)
        if not text or not text.strip():
            raise DataError("referring text is empty")
        query = self.parse(text)
        checked = self.thermal_check.keep(detections, thermal)
        considered = [i for i in checked if detections[i].score >= self.min_score]
        frame = Frame(detections, (width, height), thermal)
        weighing = ""
        if self.score_margin > 0:
            low = self.min_score - self.score_margin
            weighed = weigh(query, frame, [i for i in checked if detections[i].score >= low], self.min_score,
                            self.score_margin)
            outcome, weighing = weighed.outcome, weighed.note()
        else:
            outcome = _execute(query, frame, checked, self.min_score)
        second_look, floor = "", self.min_score
        if not outcome.selected and query.category.classes and self.second_look_score is not None:
            floor = self.second_look_score
            retry = _execute(query, frame, checked, floor)
            if retry.selected:
                outcome, second_look = retry, f"; second look (scores >= {floor:g})"
            else:
                second_look = f"; second look (scores >= {floor:g}) found none either"
        kept = set(checked)
        dropped = sum(1 for i, d in enumerate(detections) if d.score >= floor and i not in kept)
        dropped_note = f"; {dropped} person box(es) not warmer than their surroundings left out" if dropped else ""
        dropped_note = weighing + second_look + dropped_note
        scores = [0.0] * len(detections)
        if not outcome.selected:
            return ReferredSelection(text=text, mask=np.zeros((height, width), np.uint8), detections=detections,
                                     selected=[], no_match=True, score=0.0,
                                     explanation=f"no match: {outcome.reason} [{query.describe()}]{dropped_note}",
                                     referring_scores=scores, classes=tuple(query.category.classes),
                                     considered=considered)
        det_score = float(np.mean([detections[i].score for i in outcome.selected]))
        score = float(np.clip(outcome.confidence * det_score, 0.0, 1.0))
        for i in outcome.selected:
            scores[i] = score
        mask, notes = union_mask(detections, outcome.selected, (width, height), thermal)
        explanation = f"{outcome.reason} [{query.describe()}]; masks: " + ", ".join(
            f"{n}x {note}" for note, n in Counter(notes).items())
        explanation += dropped_note
        if query.unchecked:
            explanation += f"; not checked: {' '.join(query.unchecked)}"
        return ReferredSelection(text=text, mask=mask, detections=detections, selected=list(outcome.selected),
                                 no_match=False, score=score, explanation=explanation, referring_scores=scores,
                                 classes=tuple(query.category.classes), considered=considered)


def _execute(query: Query, frame: Frame, checked: Sequence[int], floor: float) -> Outcome:
    """``query`` over the thermally checked detections scoring >= ``floor``; indices into the frame's."""
    eligible = [i for i in checked if frame.detections[i].score >= floor]
    outcome = execute(query, frame.subset(eligible))
    outcome.selected = [eligible[i] for i in outcome.selected]
    return outcome


def _check_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise DataError(f"image_size must be (width, height), got {image_size!r}") from None
    if width <= 0 or height <= 0:
        raise DataError(f"image_size must be positive, got {image_size!r}")
    return width, height


def create_referrer(threshold: float = DEFAULT_THRESHOLD) -> Referrer:
    """Factory used by the nodes and commands."""
    return Referrer(threshold=threshold)
