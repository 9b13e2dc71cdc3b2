"""Where built TensorRT engines are kept, and when they must be rebuilt.

An engine is valid only for the ONNX file, TensorRT version, GPU, precision and shape
profile it was built for. Those five make the cache key; an engine is rebuilt only when
one of them changes (never on every start, a common complaint about other stacks).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_CACHE_ENV = "RIS_FUSION_ENGINE_CACHE"


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    tensorrt_version: str
    gpu: str
    precision: str
    shape_profile: str

    def digest(self) -> str:
        """Short stable hash of every field, used in the engine file name."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def profile_string(profile: dict[str, tuple[tuple[int, ...], ...]]) -> str:
    """Canonical text of a {input: (min, opt, max)} shape profile."""
    return ";".join(f"{name}:" + "/".join("x".join(map(str, s)) for s in shapes)
                    for name, shapes in sorted(profile.items()))


def default_cache_dir() -> Path:
    return Path(os.environ.get(DEFAULT_CACHE_ENV) or Path.home() / ".cache" / "ris_fusion_ros" / "engines")


def engine_path(cache_dir: Path, onnx_path: Path, key: EngineKey) -> Path:
    return Path(cache_dir) / f"{Path(onnx_path).stem}-{key.precision}-{key.digest()}.engine"


def write_engine(path: Path, engine_bytes: bytes, key: EngineKey) -> None:
    """Store an engine and, next to it, the key it was built for (atomic rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(engine_bytes)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps(asdict(key), indent=2))


def read_engine(path: Path, key: EngineKey) -> bytes | None:
    """The cached engine for ``key``, or None when absent or built for another key."""
    meta = path.with_suffix(".json")
    if not path.is_file() or not meta.is_file():
        return None
    try:
        stored = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return path.read_bytes() if stored == asdict(key) else None
