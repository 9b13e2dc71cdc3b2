"""Noun phrase -> object category: the lexicon first, then the sentence encoder's nearest prototype.

Prototypes are every COCO-80 class name plus the lexicon's category words. A phrase whose best
prototype similarity is below ``threshold`` is an unknown thing ("the giraffe" on a detector
without giraffes still resolves to the class giraffe; "the cloud" resolves to nothing), and an
unknown or absent category must give a no-match, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import encoder
from .lexicon import CATEGORY_WORDS, COCO_CLASSES, PRONOUNS

#: Similarity floor for the encoder's nearest prototype and the phrase template both sides are
#: encoded with, chosen on the training nouns (``data/expressions/train_nouns.json``, made by
#: ``python -m ris_fusion_ros.core.referring.generate``): "a {}" at 0.45 resolved 47 of 56 (bare
#: words: 43 at best; "a photo of a {}": 47 at 0.60 but with fewer rejections of non-objects).
DEFAULT_THRESHOLD = 0.45
TEMPLATE = "a {}"


@dataclass(frozen=True)
class Category:
    """Classes a noun phrase covers (empty = any class), how it was resolved, and its confidence."""

    classes: tuple[str, ...]
    plural: bool
    phrase: str
    via: str  # "lexicon", "class name", "encoder", "pronoun" or "unknown"
    similarity: float = 1.0
    prototype: str = ""

    @property
    def known(self) -> bool:
        return self.via != "unknown"


def _plural_guess(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


class CategoryResolver:
    """Resolves noun phrases; the prototype matrix is built once, on first encoder use."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._labels: list[tuple[str, tuple[str, ...]]] = []
        self._matrix: np.ndarray | None = None

    def _prototypes(self) -> tuple[list[tuple[str, tuple[str, ...]]], np.ndarray]:
        if self._matrix is None:
            labels = [(name, (name,)) for name in COCO_CLASSES]
            labels += [(word, classes) for word, (classes, _) in CATEGORY_WORDS.items() if classes]
            self._matrix = encoder.encode([TEMPLATE.format(text) for text, _ in labels])
            self._labels = labels
        return self._labels, self._matrix

    def nearest(self, phrase: str) -> tuple[str, tuple[str, ...], float]:
        """Best prototype for one phrase: (prototype text, classes, cosine similarity)."""
        labels, matrix = self._prototypes()
        scores = matrix @ encoder.encode_one(TEMPLATE.format(phrase))
        best = int(np.argmax(scores))
        return labels[best][0], labels[best][1], float(scores[best])

    def resolve(self, words: list[str]) -> Category:
        """Category of the content words of one noun phrase (modifiers and fillers already removed)."""
        phrase = " ".join(words)
        if not words:
            return Category((), False, phrase, "unknown", 0.0)
        for size in (2, 1):  # the head noun is usually last: scan from the end, two-word class names first
            for start in range(len(words) - size, -1, -1):
                chunk = " ".join(words[start:start + size])
                if chunk in PRONOUNS:
                    classes, plural = PRONOUNS[chunk]
                    return Category(classes, plural, phrase, "pronoun", 1.0, chunk)
                if chunk in CATEGORY_WORDS:
                    classes, plural = CATEGORY_WORDS[chunk]
                    return Category(classes, plural, phrase, "lexicon", 1.0, chunk)
                singular = chunk[:-1] if chunk.endswith("s") else chunk
                for name in (chunk, singular):
                    if name in COCO_CLASSES:
                        return Category((name,), name != chunk, phrase, "class name", 1.0, name)
        candidates = [phrase, *words] if len(words) > 1 else [phrase]
        best = max((self.nearest(text) for text in candidates), key=lambda item: item[2])
        prototype, classes, similarity = best
        plural = any(_plural_guess(w) for w in words[-1:])
        if similarity < self.threshold:
            return Category((), plural, phrase, "unknown", similarity, prototype)
        return Category(classes, plural, phrase, "encoder", similarity, prototype)
