"""Phrases that teach RisFuseNet's text gate which source a request favours.

The gate (RIS-FUSION's LangGatedFusion idea) reads a sentence embedding and leans the fusion
toward infrared (+1) or visible (-1) per pixel. Training pairs each phrase with that
inclination; the held-out phrases below were written separately and are never trained on:
``ris-fusion eval control`` uses them to measure whether the gate generalises to new wording.
"""

from __future__ import annotations

#: inclination -> training phrases
TRAIN_PROMPTS: dict[int, tuple[str, ...]] = {
    +1: (
        "show the heat signatures",
        "emphasise the thermal targets",
        "make warm objects stand out",
        "highlight hot regions",
        "favour the infrared camera",
        "bring out the body heat of people",
        "thermal view please",
        "I want to see warm bodies",
        "stress the infrared information",
        "make the pedestrians glow",
        "focus on temperature differences",
        "lean toward the thermal image",
    ),
    -1: (
        "keep the visible details",
        "show the texture of the scene",
        "favour the colour camera",
        "emphasise road markings and signs",
        "show what the RGB camera sees",
        "keep the daylight appearance",
        "more visible light detail",
        "preserve the fine textures of buildings",
        "I want to read the text on signs",
        "lean toward the visible image",
        "natural looking colour picture",
        "focus on the visible spectrum",
    ),
    0: (
        "fuse both cameras evenly",
        "plain fusion",
        "balanced mix of both sensors",
        "default settings",
        "no preference",
        "combine infrared and visible equally",
    ),
}

#: inclination -> held-out phrases (different wording; for evaluation only)
VALIDATION_PROMPTS: dict[int, tuple[str, ...]] = {
    +1: (
        "where are the hot things",
        "accentuate heat",
        "use mostly the IR sensor",
        "I care about warm-blooded targets",
        "heat map look",
        "make people easy to spot by their warmth",
    ),
    -1: (
        "I care about surface detail",
        "use mostly the RGB sensor",
        "show lane lines and lettering",
        "daytime camera look",
        "crisp visible textures",
        "what would my eyes see",
    ),
}
