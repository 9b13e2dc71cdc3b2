"""YAML configuration files: read, check the keys, merge with command-line values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


def load_yaml(path: str | Path, section: str | None = None, known_keys: set[str] | None = None) -> dict[str, Any]:
    """Read a YAML mapping (optionally one top-level section of it).

    Unknown keys raise ConfigError naming them, so a typo in a config file is never ignored.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    if section is not None:
        data = data.get(section) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"section '{section}' of {path} must be a mapping")
    if known_keys is not None:
        unknown = sorted(set(data) - known_keys)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} in {path}" + (f" [{section}]" if section else "")
                              + f"; known: {sorted(known_keys)}")
    return data
