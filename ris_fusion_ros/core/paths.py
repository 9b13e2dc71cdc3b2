"""Where the shared data and weights live.

One setting decides it: the *shared root* (``--shared-root`` on the command line, else the
``RIS_FUSION_SHARED`` environment variable, else ``../shared`` relative to the current
directory, else ``../shared`` next to the source checkout). Data sets are then under
``<shared>/data/<name>`` and third-party weights under ``<shared>/weights``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

SHARED_ENV = "RIS_FUSION_SHARED"
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def shared_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the shared root; raise ConfigError listing every place that was tried."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(Path(explicit))
    elif os.environ.get(SHARED_ENV):
        candidates.append(Path(os.environ[SHARED_ENV]))
    else:
        candidates += [Path.cwd().parent / "shared", _CHECKOUT_ROOT.parent / "shared"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(
        f"shared folder not found (tried {tried}); pass --shared-root DIR or set {SHARED_ENV}"
    )


def dataset_root(name: str, data_root: str | os.PathLike[str] | None = None,
                 shared: str | os.PathLike[str] | None = None) -> Path:
    """Folder of one data set: ``data_root`` when given, else ``<shared>/data/<name>``."""
    root = Path(data_root) if data_root is not None else shared_root(shared) / "data" / name
    if not root.is_dir():
        raise ConfigError(f"data folder for '{name}' not found: {root}")
    return root.resolve()
