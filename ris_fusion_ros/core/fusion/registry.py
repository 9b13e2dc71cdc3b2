"""Fusion methods by name, so the CLI, the evaluator and the nodes create them one way.

Networks take runtime options (``backend``, ``device``, ``precision``, ``threads``);
pixel-rule baselines run in NumPy and take none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError
from .base import FusionMethod
from .baselines import AverageFusion, MaxFusion


@dataclass(frozen=True)
class RuntimeOptions:
    """How a network runs: backend kind, device, precision and CPU threads."""

    backend: str = "onnxruntime"
    device: str = "cpu"
    precision: str = "fp32"
    threads: int = 2


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., FusionMethod]
    is_network: bool


def _risfusenet(options: RuntimeOptions) -> FusionMethod:
    from .ours import RisFuseNetFusion

    return RisFuseNetFusion(options.backend, options.device, options.precision, options.threads)


def _risfusenet_plain(options: RuntimeOptions) -> FusionMethod:
    """The network without the thermal-saliency control: the ablation row."""
    from .ours import RisFuseNetFusion
    from .ours.saliency import ThermalSaliency

    return RisFuseNetFusion(options.backend, options.device, options.precision, options.threads,
                            saliency=ThermalSaliency(strength=0.0), name="risfusenet-plain")


_ENTRIES: dict[str, _Entry] = {
    "average": _Entry(lambda _options: AverageFusion(), False),
    "max": _Entry(lambda _options: MaxFusion(), False),
    "risfusenet": _Entry(_risfusenet, True),
    "risfusenet-plain": _Entry(_risfusenet_plain, True),
}


_peers_registered = False


def _register_peers_once() -> None:
    """Add the peer networks (SeAFusion, TarDAL, ...) on first look-up; listing them is cheap
    (no torch import, no weights read) and a peer whose weights are missing fails when used."""
    global _peers_registered
    if not _peers_registered:
        _peers_registered = True
        from .peers import register_peers

        register_peers()


def register_method(name: str, factory: Callable[[RuntimeOptions], FusionMethod], is_network: bool = True) -> None:
    """Make a method available under ``name``; ``factory`` receives the RuntimeOptions."""
    _ENTRIES[name] = _Entry(factory, is_network)


def available_methods() -> list[str]:
    _register_peers_once()
    return sorted(_ENTRIES)


def is_network(name: str) -> bool:
    return _lookup(name).is_network


def _lookup(name: str) -> _Entry:
    _register_peers_once()
    try:
        return _ENTRIES[name]
    except KeyError:
        raise ConfigError(f"unknown fusion method '{name}'; available: {', '.join(available_methods())}") from None


def create_method(name: str, options: RuntimeOptions | None = None) -> FusionMethod:
    """Instantiate a method (models load lazily, on first use)."""
    return _lookup(name).factory(options or RuntimeOptions())
