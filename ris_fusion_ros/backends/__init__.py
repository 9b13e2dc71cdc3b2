"""Inference runtimes behind one interface: ONNX Runtime (CPU default), TensorRT, PyTorch."""

from .base import BackendError, InferenceBackend
from .registry import BACKEND_KINDS, ModelArtifacts, create_backend

__all__ = ["BACKEND_KINDS", "BackendError", "InferenceBackend", "ModelArtifacts", "create_backend"]
