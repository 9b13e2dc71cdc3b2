"""Per-frame latency of fusion methods, measured the same way for every method.

Each method fuses the same frame ``warmup`` times untimed, then ``runs`` times timed; the
figures are the median, minimum and maximum wall time of one ``fuse`` call (colour
conversion included). Run all methods in one process and one run, so they share the
machine's state and compare as ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..data import open_dataset
from ..errors import ConfigError, RisFusionError
from ..fusion import FusionMethod


@dataclass
class SpeedResult:
    method: str
    backend: str
    threads: str
    parameters: str
    width: int
    height: int
    runs: int
    median_ms: float
    min_ms: float
    max_ms: float

    @property
    def fps(self) -> float:
        return 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")

    def as_row(self) -> dict[str, object]:
        return {**asdict(self), "fps": round(self.fps, 1)}


def time_method(method: FusionMethod, ir: np.ndarray, vis: np.ndarray, *, warmup: int = 3,
                runs: int = 20) -> SpeedResult:
    """Median/min/max milliseconds of ``method.fuse(ir, vis)`` over ``runs`` timed calls."""
    for _ in range(warmup):
        method.fuse(ir, vis)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        method.fuse(ir, vis)
        times.append((time.perf_counter() - start) * 1000.0)
    info = method.info()
    return SpeedResult(method.name, str(info.get("backend", "numpy")), str(info.get("threads", "1")),
                       str(info.get("parameters", "0")), ir.shape[1], ir.shape[0], runs,
                       statistics.median(times), min(times), max(times))


def time_methods(methods: Sequence[FusionMethod], ir: np.ndarray, vis: np.ndarray, *, warmup: int = 3,
                 runs: int = 20) -> list[SpeedResult]:
    return [time_method(m, ir, vis, warmup=warmup, runs=runs) for m in methods]


def speed_table(results: Sequence[SpeedResult]) -> str:
    """Markdown table of speed results."""
    lines = ["| method | backend | threads | parameters | size | median ms | min-max ms | frames/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.method} | {r.backend} | {r.threads} | {r.parameters} | {r.width}x{r.height} | "
                     f"{r.median_ms:.1f} | {r.min_ms:.1f}-{r.max_ms:.1f} | {r.fps:.1f} |")
    return "\n".join(lines)


def benchmark_frame(width: int = 640, height: int = 480,
                    shared: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """The first MSRS pair resized to ``width`` x ``height`` (a real scene, so data-dependent
    costs are realistic), or a seeded random pair when MSRS is absent; plus a description."""
    try:
        pair = open_dataset("msrs", shared=shared)[0]
        ir = cv2.resize(pair.ir, (width, height), interpolation=cv2.INTER_LINEAR)
        vis = cv2.resize(pair.vis, (width, height), interpolation=cv2.INTER_LINEAR)
        return ir, vis, f"MSRS {pair.pair_id} resized to {width}x{height}"
    except RisFusionError:
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, (height, width), dtype=np.uint8),
                rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "synthetic random frame")


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480), with a clear error otherwise."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"a frame size must look like 640x480, got '{text}'") from None
    if width < 8 or height < 8:
        raise ConfigError(f"frame size {text} is too small")
    return width, height
