"""Fusion methods behind one interface (classic baselines now; networks register here too)."""

from .base import FusionMethod, check_pair
from .registry import available_methods, create_method, register_method

__all__ = ["FusionMethod", "available_methods", "check_pair", "create_method", "register_method"]
