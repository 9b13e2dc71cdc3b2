"""Referring segmentation: text -> the objects it names -> a mask (ROS-free).

``Referrer().refer(text, detections, (W, H), thermal=None) -> ReferredSelection``; see
:mod:`.referrer`. The text is parsed once (rules + an offline sentence encoder for nouns) and
applied to each frame's detections.
"""

from .referrer import Referrer, create_referrer
from .types import ReferredSelection

__all__ = ["ReferredSelection", "Referrer", "create_referrer"]
