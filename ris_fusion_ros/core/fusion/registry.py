"""Fusion methods by name, so the CLI, the evaluator and the nodes create them one way."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from .base import FusionMethod
from .baselines import AverageFusion, MaxFusion

_FACTORIES: dict[str, Callable[[], FusionMethod]] = {
    "average": AverageFusion,
    "max": MaxFusion,
}


def register_method(name: str, factory: Callable[[], FusionMethod]) -> None:
    """Make a method available under ``name`` (later registrations replace earlier ones)."""
    _FACTORIES[name] = factory


def available_methods() -> list[str]:
    return sorted(_FACTORIES)


def create_method(name: str) -> FusionMethod:
    """Instantiate a method; ConfigError lists the known names when ``name`` is unknown."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ConfigError(f"unknown fusion method '{name}'; available: {', '.join(available_methods())}") from None
    return factory()
