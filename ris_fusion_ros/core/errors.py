"""One exception family for the core, so callers (CLI, nodes) can report it in one place.

Messages name the file, topic or setting at fault and say what to change.
"""

from __future__ import annotations


class RisFusionError(Exception):
    """Base class of every error the core raises on purpose."""


class DataError(RisFusionError):
    """A data set, image file, label file or split file cannot be used as it is."""


class ConfigError(RisFusionError):
    """A configuration value is missing, of the wrong type or out of range."""
