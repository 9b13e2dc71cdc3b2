"""Text-commanded regional edits of the fused stream (TeRF's capabilities at frame rate, on a CPU).

``EditSession`` holds the edits of one stream: ``command(text)`` parses a sentence
(:func:`parse_command`), ``render(ir, vis, masks, fusion)`` / ``apply(fused, masks)`` edit each frame.
"""

from .commands import BACKGROUND, EVERYTHING, Clause, Effect, ParsedCommand, parse_command
from .session import OBJECTS, EditReply, EditSession

__all__ = ["BACKGROUND", "EVERYTHING", "OBJECTS", "Clause", "EditReply", "EditSession", "Effect", "ParsedCommand",
           "parse_command"]
