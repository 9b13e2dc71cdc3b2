"""Words the referring parser knows: categories and their synonyms, and closed-class grammar words.

The category lexicon is deliberately small (the words the training expressions were generated
from); other nouns are resolved by the sentence encoder against prototypes (see
:mod:`.categories`). Class names follow COCO-80, which the MSRS labels (person, bicycle, car)
and the COCO-trained detectors share.
"""

from __future__ import annotations

from ..detection.classes import COCO80

#: COCO-80 class names in index order (YOLOv5 / YOLOX naming), the detectors' list.
COCO_CLASSES: tuple[str, ...] = COCO80

#: Category words of the training expressions -> the class names they cover, and whether plural.
CATEGORY_WORDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "person": (("person",), False), "persons": (("person",), True), "people": (("person",), True),
    "pedestrian": (("person",), False), "pedestrians": (("person",), True),
    "man": (("person",), False), "men": (("person",), True),
    "woman": (("person",), False), "women": (("person",), True),
    "car": (("car",), False), "cars": (("car",), True),
    "vehicle": (("car", "bus", "truck", "motorcycle"), False),
    "vehicles": (("car", "bus", "truck", "motorcycle"), True),
    "bicycle": (("bicycle",), False), "bicycles": (("bicycle",), True),
    "bike": (("bicycle",), False), "bikes": (("bicycle",), True),
    "object": ((), False), "objects": ((), True), "thing": ((), False), "things": ((), True),
}

#: Closed-class words that stand for a category on their own ("everyone" = all people).
PRONOUNS: dict[str, tuple[tuple[str, ...], bool]] = {
    "everyone": (("person",), True), "everybody": (("person",), True), "someone": (("person",), False),
    "somebody": (("person",), False), "anyone": (("person",), False), "everything": ((), True),
}

NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "both": 2, "pair": 2, "couple": 2}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
            "6th": 6, "7th": 7, "8th": 8, "9th": 9, "10th": 10, "last": -1}
QUANTIFIERS_ALL = {"all", "every", "each", "any"}

#: Superlatives and side words -> (ranking key, descending?) used by the selector.
EXTREMES: dict[str, tuple[str, bool]] = {
    "leftmost": ("x", False), "rightmost": ("x", True),
    "topmost": ("y", False), "uppermost": ("y", False), "bottommost": ("y", True),
    "nearest": ("near", True), "closest": ("near", True), "farthest": ("near", False),
    "furthest": ("near", False), "biggest": ("size", True), "largest": ("size", True),
    "smallest": ("size", False),
    "warmest": ("heat", True), "hottest": ("heat", True), "warmer": ("heat", True), "hotter": ("heat", True),
    "coldest": ("heat", False), "coolest": ("heat", False), "colder": ("heat", False),
    "cooler": ("heat", False),
}
SIDES = {"left": ("x", False), "right": ("x", True), "middle": ("middle", False), "center": ("middle", False),
         "centre": ("middle", False), "central": ("middle", False), "top": ("y", False),
         "bottom": ("y", True)}

#: Words that carry no meaning for the selection (commands, articles, fillers).
FILLERS = {
    "the", "a", "an", "please", "segment", "highlight", "show", "find", "select", "mark", "locate",
    "detect", "get", "give", "me", "us", "point", "at", "to", "of", "in", "image", "picture", "frame",
    "scene", "photo", "view", "that", "who", "which", "is", "are", "there", "one", "ones", "side", "from",
    "and", "it", "them", "those", "these", "this", "visible", "shown", "seen", "group", "set", "most",
    "just", "only", "out", "whole", "entire",
}
#: Modifiers the parser cannot check from boxes and thermal alone (colour, vague size).
UNCHECKED_MODIFIERS = {"red", "blue", "green", "white", "black", "yellow", "grey", "gray", "silver", "dark",
                       "small", "big", "large", "little", "tiny", "huge", "tall", "short"}
