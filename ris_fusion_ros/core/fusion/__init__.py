"""Fusion methods behind one interface: pixel-rule baselines, RisFuseNet, peer networks."""

from .base import FusionMethod, check_pair, require_conditioning
from .registry import RuntimeOptions, available_methods, create_method, is_network, register_method

__all__ = ["FusionMethod", "RuntimeOptions", "available_methods", "check_pair", "create_method", "is_network",
           "register_method", "require_conditioning"]
