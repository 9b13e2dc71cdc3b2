"""Run fusion methods over a paired data set and score every output.

Every method goes through the same path: ``FusionMethod.fuse`` (luminance fused, visible
chroma kept), the same output post-processing for all (see :mod:`..fusion.postprocess`), the
fused RGB image converted to gray with the evaluator's luma, and all metrics computed against
the infrared and visible gray images at source resolution. Fused images written by an earlier
run (``fused_from``) can be scored instead of fusing again, e.g. for slow peers. Results: a
per-image CSV, ``summary.csv`` (one row per method), a markdown
report and a plot (see :mod:`.report`).
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..color import to_gray
from ..data import PairDataset, read_visible, write_image
from ..errors import DataError
from ..fusion import FusionMethod
from ..fusion.postprocess import check_postprocessing, postprocess
from .metrics import METRIC_NAMES, SSIMConvention, evaluate_fusion

SUMMARY_COLUMNS = ("method", *METRIC_NAMES, "ms_per_frame")


@dataclass
class MethodResult:
    """Per-image scores and fusion timings of one method."""

    method: str
    info: dict[str, object]
    rows: list[dict[str, float | str]] = field(default_factory=list)
    fuse_ms: list[float] = field(default_factory=list)
    cached: int = 0           # images read from an earlier run instead of fused here
    postprocessed: int = 0    # images the post-processing changed

    def summary(self) -> dict[str, float | str]:
        """Mean of each metric over the images (NaN entries left out) and median fusion time."""
        out: dict[str, float | str] = {"method": self.method}
        for name in METRIC_NAMES:
            values = [float(r[name]) for r in self.rows if not math.isnan(float(r[name]))]
            out[name] = float(np.mean(values)) if values else math.nan
        out["ms_per_frame"] = statistics.median(self.fuse_ms) if self.fuse_ms else math.nan
        return out

    def nan_counts(self) -> dict[str, int]:
        """How many images gave NaN for each metric (e.g. SCD when the output equals a source)."""
        return {n: sum(math.isnan(float(r[n])) for r in self.rows) for n in METRIC_NAMES}


@dataclass
class FusionEvaluation:
    """Everything one evaluation run produced."""

    dataset: PairDataset
    ssim: SSIMConvention
    results: list[MethodResult]
    skipped: list[str] = field(default_factory=list)
    postprocessing: str = "none"
    fused_from: Path | None = None

    @property
    def summary_rows(self) -> list[dict[str, float | str]]:
        return [r.summary() for r in self.results]


def _cached_fusion(fused_from: Path | None, method: str, pair_id: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The fused image an earlier run wrote for this method and pair, if there is one."""
    if fused_from is None:
        return None
    path = fused_from / method / f"{pair_id}.png"
    if not path.is_file():
        return None
    image = read_visible(path)
    if image.shape[:2] != shape:
        raise DataError(f"{path} is {image.shape[1]}x{image.shape[0]} but the pair is {shape[1]}x{shape[0]}")
    return image


def evaluate_methods(dataset: PairDataset, methods: Sequence[FusionMethod], *,
                     ssim: SSIMConvention | None = None, limit: int | None = None,
                     fused_dir: Path | None = None, skip_bad_pairs: bool = False,
                     progress: bool = True, postprocessing: str = "none",
                     fused_from: Path | None = None) -> FusionEvaluation:
    """Fuse and score each pair with each method.

    Each pair is read once and fused by every method in turn. The first pair's fusion is
    run twice per method and only the second run timed, so one-off start-up costs
    (allocations, lazy model loading) do not enter ``ms_per_frame``. With ``fused_from``, a
    method's image is read from ``fused_from/<method>/<pair>.png`` when it exists (not timed)
    and fused otherwise. ``postprocessing`` is applied to every output alike. A pair that
    cannot be read raises :class:`DataError`, or with ``skip_bad_pairs`` is recorded in ``skipped``.
    """
    ssim = ssim or SSIMConvention()
    check_postprocessing(postprocessing)
    results = [MethodResult(m.name, m.info()) for m in methods]
    records = dataset.records[:limit] if limit else dataset.records
    skipped: list[str] = []
    warmed: set[str] = set()
    bar = tqdm(records, desc="fusion eval", unit="pair", disable=not progress, dynamic_ncols=True)
    for record in bar:
        try:
            pair = dataset.load(record)
        except DataError as exc:
            if not skip_bad_pairs:
                raise
            skipped.append(f"{record.pair_id}: {exc}")
            continue
        ir_gray = pair.ir.astype(np.float64)
        vis_gray = to_gray(pair.vis)
        for method, result in zip(methods, results, strict=True):
            fused = _cached_fusion(fused_from, method.name, pair.pair_id, pair.ir.shape)
            fuse_ms = math.nan
            if fused is not None:
                result.cached += 1
            else:
                if method.name not in warmed:
                    method.fuse(pair.ir, pair.vis)
                    warmed.add(method.name)
                start = time.perf_counter()
                fused = method.fuse(pair.ir, pair.vis)
                fuse_ms = (time.perf_counter() - start) * 1000.0
                result.fuse_ms.append(fuse_ms)
            processed = postprocess(fused, postprocessing)
            result.postprocessed += int(processed is not fused and not np.array_equal(processed, fused))
            if fused_dir is not None:
                write_image(fused_dir / method.name / f"{pair.pair_id}.png", processed)
            scores = evaluate_fusion(ir_gray, vis_gray, to_gray(processed), ssim_convention=ssim)
            result.rows.append({"image": pair.pair_id, **scores, "fuse_ms": fuse_ms})
    return FusionEvaluation(dataset, ssim, results, skipped, postprocessing, fused_from)


def _fmt(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return "nan" if math.isnan(value) else f"{value:.6g}"


def write_csvs(evaluation: FusionEvaluation, out_dir: Path) -> tuple[Path, Path]:
    """Write ``per_image.csv`` (method, image, metrics) and ``summary.csv``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    per_image = out_dir / "per_image.csv"
    with per_image.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("method", "image", *METRIC_NAMES, "fuse_ms"))
        for result in evaluation.results:
            for row in result.rows:
                ms = row.get("fuse_ms", math.nan)
                writer.writerow((result.method, row["image"], *(_fmt(row[n]) for n in METRIC_NAMES), _fmt(ms)))
    summary = out_dir / "summary.csv"
    with summary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY_COLUMNS)
        for row in evaluation.summary_rows:
            writer.writerow(tuple(_fmt(row[c]) for c in SUMMARY_COLUMNS))
    return per_image, summary


def read_summary(path: Path) -> list[dict[str, float | str]]:
    """Read a ``summary.csv`` back (numbers as floats)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: (v if k == "method" else float(v)) for k, v in row.items()} for row in rows]
