"""Free text -> edit clauses, deterministically, in well under a millisecond.

TeRF (eq. 1) sends the operator's sentence to LLaMA-7B to get ``{object, effect}`` pairs. A
robot has neither the memory nor the seconds for that, and the vocabulary of fusion edits is
small, so a lexicon does it here:

1. the text is lower-cased and normalised (contractions, punctuation);
2. "reset"/"undo" sentences are recognised first;
3. the text is cut into clauses at ``;`` ``,`` and at "and"/"then"/"but"/"while" whenever the
   part after the cut names an effect of its own ("brighten the car on the left and denoise
   the rest" -> two clauses, "the man and the woman" stays one target);
4. in each clause the effect phrases (longest first: "more visible" is a highlight, "visible
   detail" a lean toward the visible camera), strength words ("slightly", "much") and filler
   ("please", "make", "can you") are cut out; what is left is the target phrase;
5. the target is mapped to ``everything`` (image, scene, empty, ...), ``background`` (the rest,
   surroundings, "everything except ...") or kept as a referring phrase; pronouns ("it",
   "them") take the previous clause's target.

A clause whose text names no effect makes the whole command unknown (nothing changes), unless it
only introduces a target for a pronoun in the next clause ("I can't see the rider, light him
up").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class Effect(str, Enum):
    """The edits an operator can ask for."""

    INFRARED = "infrared"    # lean toward the thermal camera (fusion control map +)
    VISIBLE = "visible"      # lean toward visible detail (fusion control map -)
    BRIGHTEN = "brighten"    # Retinex: gamma < 1 on the illumination
    DARKEN = "darken"        # Retinex: gamma > 1 on the illumination
    DENOISE = "denoise"      # Zero-Shot Noise2Noise unit, adapted once per command
    HIGHLIGHT = "highlight"  # local contrast and a little light: make the target stand out


EVERYTHING = "everything"
BACKGROUND = "background"

#: Strength words -> multiplier of an effect's normal strength.
WEAK, NORMAL, STRONG = 0.5, 1.0, 2.0


@dataclass(frozen=True)
class Clause:
    """One edit: where (a referring phrase, ``everything`` or ``background``), what, how much."""

    target: str
    effect: Effect
    strength: float = NORMAL

    def describe(self) -> str:
        amount = {WEAK: "slightly ", STRONG: "strongly "}.get(self.strength, "")
        return f"{amount}{self.effect.value} {self.target}"


@dataclass
class ParsedCommand:
    """What a sentence asks for: ``kind`` is ``edit``, ``reset``, ``undo`` or ``unknown``."""

    text: str
    kind: str
    clauses: list[Clause] = field(default_factory=list)
    message: str = ""


# ---------------------------------------------------------------------------------------------
# Lexicon. Each pattern is a regular expression matched on word boundaries of the normalised
# clause; the longest match wins where two overlap.
# ---------------------------------------------------------------------------------------------

_SOURCE_NOUNS = r"(?:\s+(?:camera|cam|image|images|view|sensor|channel|information|info|signature|data|" \
                r"details?|side|look|picture|feed|modality|mode|version))?"
_ART = r"(?:(?:the|a|an|some|more|its|their)\s+)?"

_EFFECT_PATTERNS: list[tuple[Effect, str]] = [
    # Highlight first: "more visible" / "easier to see" are about saliency, not the visible camera.
    (Effect.HIGHLIGHT, r"(?:more|better)\s+(?:visible|noticeable|conspicuous|"
                       r"prominent|salient|obvious|recogni[sz]able)"),
    (Effect.HIGHLIGHT, r"easier\s+to\s+(?:see|spot|notice|find)"),
    (Effect.HIGHLIGHT, r"stand\s+out(?:\s+more)?"),
    (Effect.HIGHLIGHT, r"(?:to\s+)?pop(?:\s+out)?"),
    (Effect.HIGHLIGHT, r"draw\s+(?:the\s+)?attention\s+to"),
    (Effect.HIGHLIGHT, r"(?:highlight|highlighted|emphasi[sz]e|emphasi[sz]ed|accentuate|spotlight|mark)"),
    (Effect.HIGHLIGHT, r"(?:salient|conspicuous|noticeable|prominent)"),
    (Effect.HIGHLIGHT, r"(?:increase|boost|raise|enhance)\s+(?:the\s+)?(?:contrast|saliency|visibility)"
                       r"\s*(?:of|on|for)?"),
    # Inclination toward infrared.
    (Effect.VISIBLE, r"(?:less|fewer|no|without|reduce\s+the|lower\s+the)\s+" + r"(?:infrared|ir|thermal|heat)"
                     + _SOURCE_NOUNS),
    (Effect.INFRARED, r"(?:less|fewer|reduce\s+the|lower\s+the)\s+" + r"(?:visible|rgb|colou?r|optical|texture)"
                      + _SOURCE_NOUNS),
    (Effect.INFRARED, _ART + r"(?:infrared|ir|thermal|heat|lwir|temperature|hot\s+spots?)" + _SOURCE_NOUNS),
    # Inclination toward the visible camera / detail.
    (Effect.VISIBLE, _ART + r"(?:visible|visual|rgb|colou?r|optical|daylight)" + _SOURCE_NOUNS),
    (Effect.VISIBLE, _ART + r"(?:textures?|fine\s+details?|details?|detailed)"),
    (Effect.VISIBLE, r"(?:sharpen|sharper|crisper|crisp)"),
    # Brighter. "too dark" is a complaint asking for more light.
    (Effect.BRIGHTEN, r"(?:less|not\s+so)\s+(?:dark|dim|gloomy|shadowy)"),
    (Effect.DARKEN, r"(?:less|not\s+so)\s+(?:bright|light|glaring|shiny|luminous)"),
    (Effect.BRIGHTEN, r"too\s+(?:dark|dim|gloomy|shadowy|underexposed)"),
    (Effect.DARKEN, r"too\s+(?:bright|light|glaring|overexposed|washed\s+out)"),
    (Effect.BRIGHTEN, r"(?:increase|raise|boost|enhance|improve|more|up|turn\s+up|add)\s+(?:the\s+)?"
                      r"(?:brightness|illumination|lighting|light|exposure|luminance|luminosity)"
                      r"(?:\s+(?:of|on|in|for|around))?"),
    (Effect.DARKEN, r"(?:decrease|reduce|lower|cut|less|turn\s+down|dial\s+down)\s+(?:the\s+)?"
                    r"(?:brightness|illumination|lighting|light|exposure|luminance|luminosity|glare|dazzle)"
                    r"(?:\s+(?:of|on|in|for|around))?"),
    (Effect.BRIGHTEN, r"(?:brighten|brightened|brighter|lighten|lightened|lighter|illuminate|illuminated|"
                      r"light\s+(?:\w+\s+)?up|lit\s+up|lift\s+the\s+shadows|expose\s+more|"
                      r"bright|luminous|well\s+lit)(?:\s+up)?"),
    (Effect.DARKEN, r"(?:darken|darkened|darker|dim|dimmed|dimmer|dark|tone\s+down|toned\s+down|"
                    r"subdue|subdued|deglare|de-glare|(?:remove|reduce)\s+(?:the\s+)?glare|"
                    r"less\s+exposed|underexpose)"),
    # Noise.
    (Effect.DENOISE, r"(?:remove|reduce|suppress|clean\s+up|clear\s+up|get\s+rid\s+of|filter\s+out|"
                     r"cut|lower|eliminate|less|fewer|no)\s+(?:the\s+|some\s+|all\s+|of\s+the\s+)?"
                     r"(?:noise|grain|graininess|speckles?|snow|static|noisy\s+pixels)"),
    (Effect.DENOISE, r"(?:denoise|denoised|de-noise|noise\s+reduction|noise\s+removal|"
                     r"de-?grain|clean\s+up|cleaner|less\s+noisy|noise-free|noise\s+free)"),
    (Effect.DENOISE, r"(?:smooth(?:en)?|smoother)(?:\s+out)?"),
    (Effect.DENOISE, r"(?:noisy|grainy|speckled|snowy|too\s+noisy|noise|(?:too\s+much|lots\s+of|a\s+lot\s+of)\s+"
                     r"(?:noise|grain))"),
]

_STRONG = r"(?:much|very|really|strongly|a\s+lot|lots|way|far|significantly|considerably|greatly|heavily|" \
          r"substantially|extremely|a\s+great\s+deal|max(?:imum)?|fully|loads)"
_WEAK = r"(?:slightly|a\s+(?:little|bit|tad|touch)(?:\s+bit)?|a\s+bit|little|somewhat|mildly|gently|" \
        r"lightly|subtly|marginally|a\s+little|just\s+a\s+bit|bit)"

_FILLER = r"(?:please|pls|kindly|could\s+you|can\s+you|would\s+you|will\s+you|you|i\s+want|i'd\s+like|" \
          r"i\s+would\s+like|we\s+need|i\s+need|let's|lets|let\s+me|try\s+to|go\s+ahead\s+and|make|makes|" \
          r"making|get|give\s+me|give|show\s+me|show|render|bring\s+back|bring\s+out|bring|keep|use|using|" \
          r"switch|lean|leaning|favou?r|prefer|rely\s+on|weight|weigh|apply|do|put|set|turn|toward|towards|" \
          r"to|in\s+(?:the\s+)?region|is|are|was|be|look|looks|appear|seem|seems|now|then|also|too|so|" \
          r"much|more|enhance|improve|increase|boost|just|again|bit|quite|rather|pretty|overall|" \
          r"it\s+is|there|way|clear|clearer|clearly|visible)"

_EVERYTHING_TARGETS = re.compile(
    r"^(?:everything|all|whole|the\s+whole|entire|the\s+entire|everywhere|overall|"
    r"(?:the\s+)?(?:whole\s+|entire\s+|full\s+|complete\s+)?(?:image|picture|frame|scene|view|photo|screen|"
    r"video|stream|feed|fusion|fused\s+image|output|everything|thing|lot))$")
_BACKGROUND_TARGETS = re.compile(
    r"^(?:(?:the\s+)?(?:background|backdrop|rest|remainder|surroundings?|surrounding\s+area|surrounding|"
    r"environment|scenery|periphery|other\s+areas?|other\s+parts?|rest\s+of\s+(?:the\s+)?"
    r"(?:image|picture|frame|scene))|everything\s+else|all\s+else|elsewhere|anything\s+else|"
    r"(?:everything|everywhere|all|the\s+image|the\s+scene|the\s+frame)\s+(?:except|but|apart\s+from|other\s+than|"
    r"besides)\s+.+)$")
_PRONOUNS = {"it", "them", "him", "her", "this", "that", "these", "those", "they", "he", "she", "its", "one"}

_RESET = re.compile(
    r"^(?:reset|restart|start\s+(?:over|again|fresh)|clear|clear\s+(?:all|everything|the\s+edits?)|"
    r"(?:clear|remove|cancel|drop|discard|delete|undo)\s+(?:all|every|the)?\s*(?:the\s+)?(?:edits?|changes?|effects?|"
    r"adjustments?|modifications?)|(?:go\s+)?back\s+to\s+(?:normal|the\s+original|default|plain(?:\s+fusion)?)|"
    r"restore(?:\s+the)?(?:\s+(?:original|default|defaults|plain\s+fusion|normal))?|original|default|"
    r"revert\s+(?:everything|all|all\s+changes|to\s+(?:the\s+)?original)|undo\s+(?:everything|all)|"
    r"plain\s+fusion|normal\s+fusion|no\s+(?:edits?|effects?))(?:\s+please)?$")
_UNDO = re.compile(
    r"^(?:undo|undo\s+(?:that|this|it|the\s+last(?:\s+\w+)?|last(?:\s+\w+)?)|revert(?:\s+(?:that|this|it|"
    r"the\s+last(?:\s+\w+)?|last(?:\s+\w+)?))?|take\s+(?:that|it)\s+back|step\s+back|go\s+back(?:\s+one(?:\s+step)?)?|"
    r"cancel\s+(?:that|the\s+last(?:\s+\w+)?|last(?:\s+\w+)?)|never\s*mind|nevermind|oops)(?:\s+please)?$")

#: Verbs of requests this module does not do; after "and" they start a clause of their own (which
#: then makes the command unknown) instead of being read as part of a target phrase.
_OTHER_ACTION_RE = re.compile(r"^(?:please\s+)?(?:paint|colou?r|recolou?r|rotate|zoom|crop|blur|move|delete|flip|"
                              r"mirror|resize|scale|label|count|track|follow|find|stop|take|record|save|detect|"
                              r"go|drive|turn|open|close|send|play|tell|show\s+me\s+where)\b")
_SPLIT_WORDS = re.compile(r"\s+(?:and\s+then|and\s+also|and|then|but|while|also|plus)\s+")
_CONTRACTIONS = [(r"\bit's\b", "it is"), (r"\bcan't\b", "cannot"), (r"\bdon't\b", "do not"),
                 (r"\bi'd\b", "i would"), (r"\bi'm\b", "i am"), (r"\bthat's\b", "that is"),
                 (r"\bwhat's\b", "what is"), (r"\bthere's\b", "there is")]
_EDGE_WORDS = {"the", "a", "an", "of", "on", "in", "for", "at", "around", "to", "into", "onto", "with", "by",
               "up", "out", "down", "and", "then", "please", "now", "more", "some", "me", "us", "area", "region",
               "part", "parts", "bits", "is", "are", "from", "over", "about", "within", "inside", "across"}

_COMPILED = [(effect, re.compile(r"\b" + pattern + r"\b")) for effect, pattern in _EFFECT_PATTERNS]
_STRONG_RE = re.compile(r"\b" + _STRONG + r"\b")
_WEAK_RE = re.compile(r"\b" + _WEAK + r"\b")
_LEADING_FILLER_RE = re.compile(r"^" + _FILLER + r"(?:\s+|$)")
_TRAILING_FILLER_RE = re.compile(r"(?:^|\s+)" + _FILLER + r"$")
#: "light him up" -> "light up him": keeps the pronoun out of the effect phrase.
_SPLIT_PARTICLE_RE = re.compile(r"\b(light|brighten|clean|clear|smooth|tone|dial|turn|cheer|liven)\s+"
                                r"(it|him|her|them|this|that|these|those)\s+(up|down|out)\b")


def normalise(text: str) -> str:
    """Lower case, ASCII quotes, contractions spelled out, punctuation other than ``;`` ``,`` dropped."""
    text = text.lower().replace("\u2019", "'").strip()
    for pattern, repl in _CONTRACTIONS:
        text = re.sub(pattern, repl, text)
    text = re.sub(r"[.!?\"()\[\]:]+", " ", text)
    text = re.sub(r"\s*([;,])\s*", r" \1 ", text)
    return re.sub(r"\s+", " ", text).strip(" ,;")


def _effects_in(text: str) -> list[tuple[int, int, Effect]]:
    """Non-overlapping effect phrases in ``text``, longest first, then left to right."""
    found = []
    for effect, pattern in _COMPILED:
        found += [(m.start(), m.end(), effect) for m in pattern.finditer(text)]
    found.sort(key=lambda item: (-(item[1] - item[0]), item[0]))
    chosen: list[tuple[int, int, Effect]] = []
    for start, end, effect in found:
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, effect))
    return sorted(chosen)


def _segments(text: str) -> list[str]:
    """Clauses: cut at ; and , always, and at joining words when the next part names an effect."""
    parts = [p.strip() for p in re.split(r"[;,]", text) if p.strip()]
    segments: list[str] = []
    for part in parts:
        pieces = _SPLIT_WORDS.split(part)
        joined = [pieces[0]]
        for piece in pieces[1:]:
            if _effects_in(piece) or _OTHER_ACTION_RE.match(piece):
                joined.append(piece)
            else:  # "the man and the woman": no effect after the cut, keep it in the target
                joined[-1] = f"{joined[-1]} and {piece}"
        segments += [s.strip() for s in joined if s.strip()]
    return segments


def _strip_edges(words: list[str]) -> list[str]:
    while words and words[0] in _EDGE_WORDS:
        words = words[1:]
    while words and words[-1] in _EDGE_WORDS:
        words = words[:-1]
    return words


def _target_of(rest: str) -> str:
    """The referring phrase left once effect and strength words are removed and filler words
    ("please", "make", "is") are trimmed from both ends; words inside the phrase stay
    ("the dog next to the fence")."""
    rest = " ".join(rest.split())
    while True:
        trimmed = " ".join(_strip_edges(rest.split()))
        trimmed = _LEADING_FILLER_RE.sub("", trimmed)
        trimmed = _TRAILING_FILLER_RE.sub("", trimmed).strip()
        if trimmed == rest:
            return rest
        rest = trimmed


def _canonical_target(phrase: str, previous: str | None) -> str:
    if not phrase:
        return EVERYTHING
    if _BACKGROUND_TARGETS.match(phrase):
        return BACKGROUND
    if _EVERYTHING_TARGETS.match(phrase):
        return EVERYTHING
    if phrase in _PRONOUNS or phrase in {"it all", "all of it"}:
        return previous or EVERYTHING
    return phrase


def _strength(text: str) -> float:
    """Weak words win ("very slightly"); "too much noise" is a complaint, not an amount."""
    text = re.sub(r"\btoo\s+much\b", " ", text)
    if _WEAK_RE.search(text):
        return WEAK
    if _STRONG_RE.search(text):
        return STRONG
    return NORMAL


def _parse_segment(segment: str, previous: str | None) -> tuple[list[Clause], str]:
    """Clauses of one segment and its target phrase (kept for pronouns in the next one)."""
    effects = _effects_in(segment)
    # Where two effects share a clause, the more specific one wins: a source lean
    # ("heat signature ... clearer") over brightness words, otherwise the first named.
    rest = segment
    for start, end, _ in reversed(effects):
        rest = rest[:start] + " " + rest[end:]
    strength = _strength(segment)
    rest = _STRONG_RE.sub(" ", rest)
    rest = _WEAK_RE.sub(" ", rest)
    target = _canonical_target(_target_of(rest), previous)
    seen: list[Effect] = []
    for _, _, effect in effects:
        if effect not in seen:
            seen.append(effect)
    # Contradictions inside one clause ("too dark" + "brighten") are impossible in the lexicon;
    # two different effects on one target are both kept.
    return [Clause(target, effect, strength) for effect in seen], target


def parse_command(text: str) -> ParsedCommand:
    """Parse an operator sentence into edit clauses, a reset, an undo, or an unknown command."""
    if not isinstance(text, str):
        return ParsedCommand(str(text), "unknown", message="the command must be text")
    clean = _SPLIT_PARTICLE_RE.sub(r"\1 \3 \2", normalise(text))
    if not clean:
        return ParsedCommand(text, "unknown", message="empty command; say e.g. 'brighten the person' or 'reset'")
    if _RESET.match(clean):
        return ParsedCommand(text, "reset", message="all edits removed; plain fusion")
    if _UNDO.match(clean):
        return ParsedCommand(text, "undo", message="last command undone")
    clauses: list[Clause] = []
    previous: str | None = None
    pending: str | None = None  # a segment without an effect, waiting for a pronoun
    for segment in _segments(clean):
        if not _effects_in(segment):
            if pending is not None:
                return _unknown(text, pending)
            pending = segment
            phrase = re.sub(r"^(?:i\s+|we\s+)?(?:cannot|can\s+not|could\s+not|do\s+not|hardly)\s+(?:see|find|"
                            r"spot|make\s+out|notice)\s+", "", _target_of(segment))
            previous = _target_of(phrase) or previous
            continue
        new, target = _parse_segment(segment, previous)
        if pending is not None and not _uses_pronoun(segment):
            return _unknown(text, pending)
        pending = None
        clauses += [c for c in new if c not in clauses]
        previous = target
    if pending is not None or not clauses:
        return _unknown(text, pending or clean)
    return ParsedCommand(text, "edit", clauses, "; ".join(c.describe() for c in clauses))


def _uses_pronoun(segment: str) -> bool:
    return any(word in _PRONOUNS for word in segment.split())


def _unknown(text: str, part: str) -> ParsedCommand:
    return ParsedCommand(
        text, "unknown",
        message=f"not understood: '{part}'. Nothing changed. Effects: brighten, darken, denoise, highlight, "
                "lean toward infrared or visible detail, on a named object, 'everything' or 'the background'; "
                "or 'undo' / 'reset'.")
