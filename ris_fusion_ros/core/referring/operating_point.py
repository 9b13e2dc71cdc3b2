"""The scores a detector is run at for referring: the instance floor, the second look and the thermal stream.

Each detector has its own best settings. The packaged ``yolox-nano-msrs`` has an operating point chosen out of
fold on the training images (README, "Operating point of the default detector"): conf 0.35, no second look,
thermal stream on, score margin 0.2. Every other detector gets the generic one (0.25, second look down to 0.15,
no thermal stream, no score margin).
Nodes, the replay and the referring commands take "auto" (a score of -1, ``thermal_stream`` "auto") to mean
the detector's own; any explicit value wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..detection.types import OPERATING_SCORE
from ..errors import ConfigError
from .referrer import DEFAULT_SECOND_LOOK_SCORE, candidate_floor, validate_scores
from .weighing import validate_margin

#: A score parameter at this value (any negative one) means "the detector's operating point".
AUTO_SCORE = -1.0
AUTO = "auto"


@dataclass(frozen=True)
class OperatingPoint:
    """Instances are the detections >= ``min_score`` (also the published ones); a category text that matched
    none is matched again down to ``second_look_score`` (None: no second look); ``thermal_stream``: the people
    the detector finds on the thermal frame join the instances; ``score_margin`` > 0: the referrer weighs the
    detections within ``min_score`` +- it as uncertain (``weighing.py``)."""

    min_score: float
    second_look_score: float | None
    thermal_stream: bool
    score_margin: float = 0.0

    def referrer_scores(self) -> dict[str, Any]:
        """The :class:`~ris_fusion_ros.core.referring.Referrer` keyword arguments of this point."""
        return {"min_score": self.min_score, "second_look_score": self.second_look_score,
                "score_margin": self.score_margin}

    def candidate_floor(self) -> float:
        """The lowest score the referrer looks at: what the detector must output for it."""
        return candidate_floor(self.min_score, self.second_look_score, self.score_margin)

    def describe(self) -> str:
        look = f"second look {self.second_look_score:g}" if self.second_look_score is not None else "no second look"
        margin = f", score margin {self.score_margin:g}" if self.score_margin else ""
        return f"conf {self.min_score:g}, {look}{margin}, thermal stream {'on' if self.thermal_stream else 'off'}"


GENERIC = OperatingPoint(OPERATING_SCORE, DEFAULT_SECOND_LOOK_SCORE, False)
#: Chosen out of fold (training folds A/B, templates + road-class no-matches, protocols declared before any
#: result): held-out 291 expressions acc@0.5 0.759, no-match accuracy 0.927 (generic point: 0.742 / 0.836); the
#: score margin 0.2, chosen the same way later: 0.766 / 0.927.
CHOSEN: dict[str, OperatingPoint] = {"yolox-nano-msrs": OperatingPoint(0.35, None, True, 0.2)}


def detector_operating_point(detector: str) -> OperatingPoint:
    """The operating point chosen for ``detector`` (a name as the nodes take it), else :data:`GENERIC`."""
    return CHOSEN.get(str(detector).strip().lower(), GENERIC)


def resolve_operating_point(detector: str, min_score: float | None = AUTO_SCORE,
                            second_look_score: float | None = AUTO_SCORE,
                            thermal_stream: Any = AUTO, stream_applies: bool = True,
                            score_margin: float | None = AUTO_SCORE) -> OperatingPoint:
    """The operating point from parameter values: a negative score (or None for ``min_score`` and
    ``score_margin``) and ``thermal_stream`` "auto" (or None) take the detector's; ``second_look_score`` None or
    >= the floor = off. ``stream_applies`` False (instances that are not a visible-light frame's detections):
    "auto" means off."""
    own = detector_operating_point(detector)
    if not stream_applies and _is_auto(thermal_stream):
        thermal_stream = False
    floor = own.min_score if min_score is None or float(min_score) < 0 else float(min_score)
    if second_look_score is not None and float(second_look_score) < 0:
        second: float | None = own.second_look_score
    else:
        second = second_look_score
    floor, second = validate_scores(floor, second)
    margin = own.score_margin if score_margin is None or float(score_margin) < 0 else validate_margin(score_margin)
    return OperatingPoint(floor, second, own.thermal_stream if _is_auto(thermal_stream) else parse_switch(
        thermal_stream, "thermal_stream"), margin)


def parse_switch(value: Any, name: str) -> bool:
    """A bool parameter that also takes "on"/"off"/"true"/"false" (ConfigError for anything else)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be auto, on or off (or true / false), got {value!r}")


def _is_auto(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == AUTO)
