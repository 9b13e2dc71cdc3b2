"""Text -> :class:`Query`: a small rule grammar over a normalised token stream.

Multi-word cues ("to the left of", "second from the right", "with the highest temperature")
are first rewritten into single marker tokens; the text is then split at the first relation
marker into the target phrase and the reference phrase (parsed recursively). Nouns go to the
:class:`~.categories.CategoryResolver`, so unseen synonyms and paraphrases are handled by the
sentence encoder instead of the word list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .categories import Category, CategoryResolver
from .lexicon import EXTREMES, FILLERS, NUMBERS, ORDINALS, PRONOUNS, QUANTIFIERS_ALL, SIDES, UNCHECKED_MODIFIERS

#: Relation markers -> relation kind.
RELATIONS = {
    "REL_LEFT_OF": "left_of", "REL_RIGHT_OF": "right_of", "REL_NEAR": "near", "REL_ON": "on",
    "REL_ABOVE": "above", "REL_BELOW": "below", "REL_FRONT": "in_front_of", "REL_BEHIND": "behind",
    "REL_CLOSEST": "closest_to", "REL_FARTHEST": "farthest_from",
}

_SIDE_WORDS = "left|right|middle|center|centre|top|bottom"
#: (pattern, replacement) applied in order to the lower-cased text.
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"\bleft[\s-]+most\b", "leftmost"), (r"\bright[\s-]+most\b", "rightmost"),
    (r"\b(\d+)\s*(st|nd|rd|th)\b", r"\1\2"),
    # thermal attributes said with nouns
    (r"\b(?:with|having|of)?\s*(?:the\s+)?(?:highest|greatest|most|maximum)\s+(?:temperature|heat|thermal\s+signature)\b",
     " warmest "),
    (r"\b(?:with|having|of)?\s*(?:the\s+)?(?:lowest|least|minimum)\s+(?:temperature|heat|thermal\s+signature)\b",
     " coldest "),
    (r"\bbrightest\s+in\s+(?:the\s+)?(?:thermal|infrared|ir)(?:\s+image)?\b", " warmest "),
    (r"\bdarkest\s+in\s+(?:the\s+)?(?:thermal|infrared|ir)(?:\s+image)?\b", " coldest "),
    # distance to the viewer
    (r"\b(?:closest|nearest)\s+to\s+(?:the\s+)?(?:camera|viewer|observer|us|me)\b", " nearest "),
    (r"\b(?:farthest|furthest)\s+from\s+(?:the\s+)?(?:camera|viewer|observer|us|me)\b", " farthest "),
    (r"\b(?:farthest|furthest)\s+away\b|\bmost\s+distant\b|\bin\s+the\s+(?:distance|background)\b|\bfar\s+away\b",
     " farthest "),
    (r"\bin\s+the\s+foreground\b", " nearest "),
    # extremes said with sides
    (r"\b(?:farthest|furthest|most)\s+to\s+the\s+(left|right)\b", r" \1most "),
    (r"\b(?:on|at|to)\s+the\s+(?:far|very|extreme)\s+(left|right)\b", r" \1most "),
    (r"\bfar\s+(left|right)\b", r" \1most "),
    (r"\b(?:from|starting\s+from|counting\s+from)\s+the\s+(left|right)\b", r" FROM_\1 "),
    # relations
    (r"\b(?:to|on|at)\s+the\s+(left|right)\s+(?:hand\s+)?(?:side\s+)?of\b", r" REL_\1_OF "),
    (r"\b(left|right)\s+of\b", r" REL_\1_OF "),
    (r"\bin\s+front\s+of\b", " REL_FRONT "),
    (r"\b(?:closest|nearest)\s+to\b", " REL_CLOSEST "),
    (r"\b(?:farthest|furthest)\s+from\b", " REL_FARTHEST "),
    (r"\b(?:next\s+to|close\s+to|adjacent\s+to|beside|besides|near|nearby|alongside|by|with|standing\s+by)\b",
     " REL_NEAR "),
    (r"\b(?:on|at|in)\s+the\s+(" + _SIDE_WORDS + r")(?:\s+(?:side|part|half))?(?:\s+of\s+the\s+"
     r"(?:image|picture|frame|scene|view|road|street))?\b", r" SIDE_\1 "),
    (r"\b(?:on\s+top\s+of|riding|rides|sitting\s+on|seated\s+on|mounted\s+on|on)\b", " REL_ON "),
    (r"\b(?:above|over)\b", " REL_ABOVE "),
    (r"\b(?:below|under|underneath|beneath)\b", " REL_BELOW "),
    (r"\bbehind\b", " REL_BEHIND "),
    (r"\b(?:group|set|row)\s+of\b", " "),
    (r"\b(?:pair|couple)\s+of\b", " two "),
)
_COMPILED = tuple((re.compile(pattern), repl) for pattern, repl in _REWRITES)


@dataclass(frozen=True)
class Relation:
    """The target must stand in ``kind`` to the objects the ``reference`` query selects."""

    kind: str
    reference: Query


@dataclass(frozen=True)
class Query:
    """What one phrase asks for, before looking at a frame."""

    text: str
    category: Category
    quantity: int | None = None          # an explicit count ("the two people")
    everything: bool = False             # all / every / each
    ordinal: int | None = None           # 1-based; -1 = last
    order_key: str | None = None         # x, y, near, size, heat, middle
    descending: bool = False
    from_side: bool = False              # the order came from a side word ("on the left")
    relation: Relation | None = None
    unchecked: tuple[str, ...] = field(default_factory=tuple)

    @property
    def plural(self) -> bool:
        return self.everything or (self.quantity or 1) > 1 or self.category.plural

    def named_classes(self) -> tuple[str, ...]:
        """Every detector class the phrase names, its relation's reference included; empty when some part
        names no class ("the one on the left"), i.e. any class matters."""
        own = self.category.classes
        other = self.relation.reference.named_classes() if self.relation else ()
        if not own or (self.relation is not None and not other):
            return ()
        return tuple(dict.fromkeys(own + other))

    def describe(self) -> str:
        parts = [f"category={'/'.join(self.category.classes) or 'any'} ({self.category.via}"
                 + (f" '{self.category.prototype}' {self.category.similarity:.2f}" if self.category.via == "encoder"
                    else "") + ")"]
        if self.everything:
            parts.append("all")
        if self.quantity:
            parts.append(f"count={self.quantity}")
        if self.ordinal:
            parts.append(f"ordinal={self.ordinal}")
        if self.order_key:
            parts.append(f"order={self.order_key}{' desc' if self.descending else ''}")
        if self.relation:
            parts.append(f"{self.relation.kind}[{self.relation.reference.describe()}]")
        return ", ".join(parts)


def normalise(text: str) -> list[str]:
    """Lower-case tokens with multi-word cues rewritten into marker tokens."""
    value = " " + text.lower().replace("’", "'") + " "
    value = re.sub(r"[^\w\s'-]", " ", value)
    value = value.replace("'s ", " ")
    for pattern, repl in _COMPILED:
        value = pattern.sub(repl, value)
    tokens = []
    for token in value.replace("-", " ").split():
        if token.startswith(("REL_", "SIDE_", "FROM_")):
            tokens.append(token.upper() if token.startswith("REL_") else token)
        else:
            tokens.append(token)
    return tokens


class Parser:
    """Parses texts into queries; owns the category resolver (and through it the encoder)."""

    def __init__(self, resolver: CategoryResolver | None = None) -> None:
        self.resolver = resolver or CategoryResolver()

    def parse(self, text: str) -> Query:
        tokens = normalise(text)
        return self._parse_tokens(text, tokens)

    def _parse_tokens(self, text: str, tokens: list[str]) -> Query:
        split = next((i for i, t in enumerate(tokens) if t.upper() in RELATIONS and i > 0), None)
        relation = None
        if split is not None:
            tail = tokens[split + 1:]
            reference = self._parse_tokens(" ".join(tail), tail)
            relation = Relation(RELATIONS[tokens[split].upper()], reference)
            tokens = tokens[:split]
        return self._parse_phrase(text, tokens, relation)

    def _parse_phrase(self, text: str, tokens: list[str], relation: Relation | None) -> Query:
        nouns: list[str] = []
        unchecked: list[str] = []
        quantity = ordinal = None
        everything = from_side = False
        order_key: str | None = None
        descending = False
        for index, token in enumerate(tokens):
            if token.upper() in RELATIONS:  # a leading relation word ("REL_ON" first) carries no target
                continue
            if token in QUANTIFIERS_ALL:
                everything = True
            elif token in NUMBERS and token != "one":
                quantity = NUMBERS[token]
            elif token.isdigit():
                quantity = int(token)
            elif token in ORDINALS:
                ordinal = ORDINALS[token]
            elif token in EXTREMES:
                order_key, descending = EXTREMES[token]
            elif token.startswith("FROM_"):
                order_key, descending = SIDES[token[5:].lower()]
            elif token.startswith("SIDE_") or (token in SIDES and self._is_side_adjective(tokens, index)):
                key, desc = SIDES[token[5:].lower() if token.startswith("SIDE_") else token]
                if order_key is None or order_key in ("x", "y", "middle"):
                    order_key, descending, from_side = key, desc, True
            elif token in UNCHECKED_MODIFIERS:
                unchecked.append(token)
            elif token in FILLERS and token not in PRONOUNS:
                continue
            else:
                nouns.append(token)
        if nouns:
            category = self.resolver.resolve(nouns)
        else:
            category = Category((), quantity is not None and quantity > 1, "", "pronoun", 1.0, "any object")
        if ordinal is not None and order_key is None:
            order_key, descending = "x", False
        return Query(text=text, category=category, quantity=quantity, everything=everything, ordinal=ordinal,
                     order_key=order_key, descending=descending, from_side=from_side and ordinal is None,
                     relation=relation, unchecked=tuple(unchecked))

    @staticmethod
    def _is_side_adjective(tokens: list[str], index: int) -> bool:
        """'the left bicycle', 'the middle car': a bare side word before the noun."""
        return index + 1 < len(tokens) and tokens[index + 1] not in SIDES
