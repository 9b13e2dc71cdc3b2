"""The operator's referring text: one validated "active text" shared by the nodes and by replay.

Rules (the same for ``/referring_text``, the ``set_prompt`` service and ``--text-at``):
surrounding whitespace is stripped; an empty text clears the target; a text longer than
``max_length`` characters or with control characters other than tab/newline is rejected and the
previous target stays active (a 1 MB paste or a binary blob must not reach the model).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from ..errors import ConfigError

DEFAULT_MAX_TEXT_LENGTH = 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class TextUpdate:
    """What one request did: ``accepted``, a message for the operator, and the text active afterwards."""

    accepted: bool
    message: str
    active: str
    changed: bool = False


def text_problem(cleaned: str, max_length: int) -> str | None:
    """Why an operator text (already stripped) is refused, or None: too long, or control characters
    other than tab/newline. The one rule for the referring text and the edit commands."""
    if len(cleaned) > max_length:
        return f"{len(cleaned)} characters is more than max_text_length {max_length}"
    if _CONTROL.search(cleaned):
        return "it contains control characters"
    return None


class ActiveText:
    """Holds the current referring text; thread-safe (a subscription and a service may race)."""

    def __init__(self, initial: str = "", max_length: int = DEFAULT_MAX_TEXT_LENGTH) -> None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ConfigError(f"max_text_length must be an integer >= 1, got {max_length!r}")
        self.max_length = max_length
        self._lock = threading.Lock()
        self._text = ""
        self.accepted = 0
        self.rejected = 0
        self.cleared = 0
        if initial:
            update = self.set(initial)
            if not update.accepted:
                raise ConfigError(f"default_text rejected: {update.message}")

    @property
    def text(self) -> str:
        with self._lock:
            return self._text

    def set(self, text: str) -> TextUpdate:
        """Validate and apply ``text``; an empty text clears."""
        if not isinstance(text, str):
            with self._lock:
                self.rejected += 1
                return TextUpdate(False, f"text must be a string, got {type(text).__name__}", self._text)
        cleaned = text.strip()
        with self._lock:
            problem = text_problem(cleaned, self.max_length)
            if problem is not None:
                self.rejected += 1
                return TextUpdate(False, f"text rejected: {problem}; the previous target stays active", self._text)
            changed = cleaned != self._text
            self._text = cleaned
            if not cleaned:
                self.cleared += 1
                return TextUpdate(True, "target cleared", "", changed)
            self.accepted += 1
            return TextUpdate(True, f"target set: {cleaned!r}", cleaned, changed)

    def clear(self) -> TextUpdate:
        return self.set("")


def parse_text_at(value: str, option: str = "--text-at") -> tuple[float, str]:
    """``"T:text"`` (T in seconds from the bag start) -> (T, text); ConfigError naming the problem."""
    head, sep, text = value.partition(":")
    if not sep:
        raise ConfigError(f"{option} expects T:\"text\" (seconds from the start, a colon, the text), got {value!r}")
    try:
        seconds = float(head)
    except ValueError:
        raise ConfigError(f"{option}: {head!r} is not a time in seconds (in {value!r})") from None
    if not seconds >= 0.0:
        raise ConfigError(f"{option}: time must be >= 0 seconds, got {seconds}")
    return seconds, text
