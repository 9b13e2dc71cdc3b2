"""Markdown report and plot of a fusion evaluation, for people who would rather look than read."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from .fusion_eval import SUMMARY_COLUMNS, FusionEvaluation
from .metrics import METRIC_NAMES

# Direction in which each metric is better; Nabf counts artefacts, so lower is better.
HIGHER_IS_BETTER = {name: name != "Nabf" for name in METRIC_NAMES}


def markdown_table(rows: Sequence[dict[str, float | str]], columns: Sequence[str] = SUMMARY_COLUMNS,
                   bold_best: bool = True) -> str:
    """A markdown table of summary rows; the best value of each metric column is bold."""
    best: dict[str, float] = {}
    if bold_best and len(rows) > 1:
        for col in columns:
            values = [float(r[col]) for r in rows if col in HIGHER_IS_BETTER and not math.isnan(float(r[col]))]
            if values:
                best[col] = max(values) if HIGHER_IS_BETTER[col] else min(values)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for col in columns:
            value = row[col]
            if isinstance(value, str):
                cells.append(value)
                continue
            text = "nan" if math.isnan(value) else (f"{value:.1f}" if col == "ms_per_frame" else f"{value:.3f}")
            cells.append(f"**{text}**" if col in best and value == best[col] else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_summary(rows: Sequence[dict[str, float | str]], path: Path, title: str) -> Path:
    """One small bar chart per metric (methods side by side), saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [*METRIC_NAMES, "ms_per_frame"]
    cols = 5
    nrows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False)
    names = [str(r["method"]) for r in rows]
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(names))]
    for ax, metric in zip(axes.flat, metrics, strict=False):
        values = [float(r[metric]) for r in rows]
        ax.bar(range(len(values)), [0 if math.isnan(v) else v for v in values], color=colours)
        arrow = "" if metric == "ms_per_frame" else (" ↑" if HIGHER_IS_BETTER[metric] else " ↓")
        ax.set_title(metric + (" (lower better)" if metric == "ms_per_frame" else arrow), fontsize=9)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _postprocessing_line(name: str) -> str:
    if name == "none":
        return "outputs are scored as the methods return them (no stretch added by the evaluation)."
    return (f"every method's output then gets the same `{name}` post-processing (global min-max stretch of the "
            "colour image, SeAFusion's saving step; the identity when the image already spans 0-255).")


def write_report(evaluation: FusionEvaluation, out_dir: Path, command: str = "") -> Path:
    """Write ``report.md`` and ``summary.png`` next to the CSVs; return the report path."""
    rows = evaluation.summary_rows
    dataset = evaluation.dataset
    n_pairs = len(evaluation.results[0].rows) if evaluation.results else 0
    title = f"Fusion evaluation: {dataset.spec.name}, {n_pairs} pairs"
    plot = plot_summary(rows, out_dir / "summary.png", title)
    split = str(dataset.split_path) if dataset.split_path else "all pairs in the folder"
    lines = [
        f"# {title}",
        "",
        f"- Data: `{dataset.root}` (split: {split}); pairs evaluated: {n_pairs}"
        + (f"; skipped: {len(evaluation.skipped)}" if evaluation.skipped else ""),
        f"- Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"
        f" on {platform.node() or 'unknown host'} ({platform.machine()}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()})",
        *([f"- Command: `{command}`"] if command else []),
        "",
        markdown_table(rows),
        "",
        f"![summary]({plot.name})",
        "",
        "## Conventions",
        "",
        "- Every method fuses luminance and keeps the visible chroma (BT.601 YCbCr); "
        + _postprocessing_line(evaluation.postprocessing),
        "- Metrics on the gray (0.299R+0.587G+0.114B, rounded) fused image against the infrared and visible gray",
        "  images, float64, 0-255, source resolution; mean over images (images giving NaN left out, counted below).",
        "- EN in bits; MI = MI(IR,F) + MI(VIS,F), in nats and bits; VIF = pixel-domain multi-scale VIF summed over",
        "  both sources; Qabf with the Xydeas-Petrovic constants (its maximum is about 0.975); Nabf is Shreyamsha",
        "  Kumar's artefact measure (lower is better).",
        f"- SSIM: {evaluation.ssim.describe()}.",
        "- ms_per_frame: median wall time of one `fuse` call (colour conversion included) on this machine during",
        "  the run; each method fuses once untimed first; nan for images read from an earlier run.",
        *([f"- Fused images read from `{evaluation.fused_from}` where present (see Methods)."]
          if evaluation.fused_from else []),
        "",
        "## Methods",
        "",
    ]
    for result in evaluation.results:
        details = ", ".join(f"{k}: {v}" for k, v in result.info.items() if k != "name")
        lines.append(f"- **{result.method}**: {details}")
        if evaluation.fused_from:
            lines.append(f"  - {result.cached} images read from the earlier run, {len(result.fuse_ms)} fused here")
        if evaluation.postprocessing != "none":
            lines.append(f"  - post-processing changed {result.postprocessed} of {len(result.rows)} images")
        nans = {k: v for k, v in result.nan_counts().items() if v}
        if nans:
            lines.append(f"  - images with NaN scores: {nans}")
    if evaluation.skipped:
        lines += ["", "## Skipped pairs", "", *[f"- {s}" for s in evaluation.skipped]]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report
