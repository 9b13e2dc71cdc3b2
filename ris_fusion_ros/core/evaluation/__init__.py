"""Fusion quality metrics, evaluation runs and their reports."""
