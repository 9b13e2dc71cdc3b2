"""The replay report: ``report.md`` + ``report.json`` + plots (rates, latency histogram, RSS, detections)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .replay import ReplayStats


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    if not a.size:
        return {}
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"n": int(a.size), "mean": float(a.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "max": float(a.max())}


def _plots(stats: ReplayStats, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    total = stats.timings_ms.get("total", [])
    if total:
        axes[0].hist(total, bins=40, color="tab:blue")
        axes[0].set(title="processing time per frame", xlabel="ms", ylabel="frames")
    if len(stats.stamps_s) > 1:
        t = np.asarray(stats.stamps_s) - stats.stamps_s[0]
        edges = np.arange(0.0, t[-1] + 1.0, 1.0)
        counts, _ = np.histogram(t, edges)
        axes[1].step(edges[:-1], counts, where="post")
        axes[1].set(title="output frames per second of bag time", xlabel="bag time (s)", ylabel="frames/s")
    if stats.rss_mb:
        x, y = zip(*stats.rss_mb, strict=True)
        axes[2].plot(x, y)
        axes[2].set(title="resident memory", xlabel="messages read", ylabel="RSS (MB)")
    fig.tight_layout()
    fig.savefig(out / "timing.png", dpi=90)
    plt.close(fig)
    files.append("timing.png")
    if stats.detections_per_frame:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        ax.hist(stats.detections_per_frame, bins=range(0, max(stats.detections_per_frame) + 2), color="tab:green")
        ax.set(title="detections per frame", xlabel="detections", ylabel="frames")
        fig.tight_layout()
        fig.savefig(out / "detections.png", dpi=90)
        plt.close(fig)
        files.append("detections.png")
    return files


def rss_growth(stats: ReplayStats, warmup_fraction: float = 0.2) -> dict[str, float]:
    """RSS after warm-up (first ``warmup_fraction`` of samples skipped): first, last, max, growth in MB."""
    samples = [mb for _, mb in stats.rss_mb]
    if len(samples) < 3:
        return {}
    tail = samples[int(len(samples) * warmup_fraction):]
    return {"after_warmup_mb": tail[0], "end_mb": tail[-1], "max_mb": max(tail), "growth_mb": tail[-1] - tail[0]}


def build_summary(stats: ReplayStats, sync: Any, bad: dict[str, int], manifest: dict | None,
                  info: dict[str, Any]) -> dict[str, Any]:
    span = (stats.stamps_s[-1] - stats.stamps_s[0]) if len(stats.stamps_s) > 1 else 0.0
    pairing = {"pairs": sync.pairs}
    for name in ("thermal", "rgb"):
        s = getattr(sync, name)
        pairing[name] = {"received": s.received, "paired": s.paired, "unmatched": s.unmatched,
                         "queue_overflow": s.queue_overflow, "backwards": s.backwards, "duplicate": s.duplicate}
    summary: dict[str, Any] = {
        "info": info, "frames": stats.frames, "messages_in": stats.messages_in, "wall_s": stats.wall_s,
        "processing_fps": stats.frames / stats.wall_s if stats.wall_s else 0.0,
        "output_rate_hz_bag_time": (len(stats.stamps_s) - 1) / span if span else 0.0,
        "timings_ms": {k: _pct(v) for k, v in stats.timings_ms.items()}, "pairing": pairing, "bad_input": bad,
        "rss": rss_growth(stats), "outputs": stats.outputs,
        "detections": {"total": int(sum(stats.detections_per_frame)), "per_class": dict(stats.classes.most_common())},
        "referring": {text: {**v, "mean_score": v["score_sum"] / v["frames"] if v["frames"] else 0.0}
                      for text, v in stats.texts.items()},
        "fusion_metrics": {k: float(np.mean([m[k] for m in stats.metrics])) for k in stats.metrics[0]}
        if stats.metrics else {},
        "fusion_metrics_frames": len(stats.metrics),
        "edits": stats.edits,
    }
    if manifest is not None:
        expected = manifest["expected_unmatched"]
        summary["injected"] = {
            "expected_pairs": manifest["expected_pairs"], "pairs": sync.pairs,
            "expected_unmatched_thermal": expected["thermal"], "unmatched_thermal": sync.thermal.unmatched,
            "expected_unmatched_rgb": expected["rgb"], "unmatched_rgb": sync.rgb.unmatched,
            "match": sync.pairs == manifest["expected_pairs"] and sync.thermal.unmatched == expected["thermal"]
            and sync.rgb.unmatched == expected["rgb"]}
    return summary


def _edit_lines(summary: dict[str, Any]) -> list[str]:
    """The text-commanded edits: every command with its reply, and what applying them cost per frame."""
    edits = summary.get("edits") or []
    if not edits:
        return []
    lines = ["", "## Edits", "", "| bag time (s) | command | accepted | reply |", "|---|---|---|---|"]
    for e in edits:
        command = str(e["command"]).replace("|", "\\|")
        reply = str(e["reply"]).replace("|", "\\|")
        lines.append(f"| {e['t_s']:.2f} | {command} | {'yes' if e['accepted'] else 'no'} | {reply} |")
    timing = summary["timings_ms"].get("edit")
    if timing:
        lines += ["", f"Applying the active edits: p50 {timing['p50']:.2f} ms, p99 {timing['p99']:.2f} ms, max "
                  f"{timing['max']:.2f} ms per frame over {timing['n']} edited frames (fusion call excluded; "
                  "issue 6 budget: 15 ms per 640x480 frame)."]
    else:
        lines += ["", "No frame had an active edit."]
    return lines


def write_report(out: str | Path, summary: dict[str, Any], stats: ReplayStats) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    plots = _plots(stats, out)
    info = summary["info"]
    lines = [f"# Replay report: {info.get('in_bag')}", "",
             f"Output bag: `{info.get('out_bag')}`. Pipeline: {info.get('pipeline')}. Machine: {info.get('machine')}.",
             f"{summary['messages_in']} input messages, {summary['frames']} frames out in {summary['wall_s']:.1f} s "
             f"wall ({summary['processing_fps']:.1f} frames/s processing, one thread); output rate over bag time "
             f"{summary['output_rate_hz_bag_time']:.2f} Hz.", "", "## Pairing", "",
             "| stream | received | paired | unmatched | queue overflow | backwards | duplicate |",
             "|---|---|---|---|---|---|---|"]
    for name in ("thermal", "rgb"):
        s = summary["pairing"][name]
        lines.append(f"| {name} | {s['received']} | {s['paired']} | {s['unmatched']} | {s['queue_overflow']} | "
                     f"{s['backwards']} | {s['duplicate']} |")
    lines += ["", f"Pairs: {summary['pairing']['pairs']}."]
    if "injected" in summary:
        inj = summary["injected"]
        lines += ["", "Injected by `ris-fusion make-bag` (manifest) vs measured: "
                  f"pairs {inj['pairs']} / expected {inj['expected_pairs']}; unmatched thermal "
                  f"{inj['unmatched_thermal']} / expected {inj['expected_unmatched_thermal']}; unmatched RGB "
                  f"{inj['unmatched_rgb']} / expected {inj['expected_unmatched_rgb']} -> "
                  f"**{'equal' if inj['match'] else 'DIFFERENT'}**."]
    if summary["bad_input"]:
        lines += ["", "Bad input: " + ", ".join(f"{k} x{v}" for k, v in summary["bad_input"].items())]
    lines += ["", "## Processing time per frame (ms, this machine)", "", "| stage | n | mean | p50 | p90 | p99 | max |",
              "|---|---|---|---|---|---|---|"]
    for stage, p in summary["timings_ms"].items():
        if p:
            lines.append(f"| {stage} | {p['n']} | {p['mean']:.1f} | {p['p50']:.1f} | {p['p90']:.1f} | {p['p99']:.1f} | "
                         f"{p['max']:.1f} |")
    rss = summary["rss"]
    if rss:
        lines += ["", f"Memory (RSS): {rss['after_warmup_mb']:.0f} MB after warm-up, {rss['end_mb']:.0f} MB at the "
                  f"end, max {rss['max_mb']:.0f} MB (growth {rss['growth_mb']:+.1f} MB)."]
    if summary["fusion_metrics"]:
        lines += ["", f"## Fusion metrics (mean over {summary['fusion_metrics_frames']} frames, every "
                  f"{info.get('metrics_every')}th)", "",
                  "| " + " | ".join(summary["fusion_metrics"]) + " |", "|" + "---|" * len(summary["fusion_metrics"]),
                  "| " + " | ".join(f"{v:.3f}" for v in summary["fusion_metrics"].values()) + " |"]
    det = summary["detections"]
    lines += ["", "## Detections", "", f"{det['total']} detections; per class: "
              + (", ".join(f"{k} {v}" for k, v in det["per_class"].items()) or "none")]
    lines += ["", "## Referring", ""]
    if summary["referring"]:
        lines += ["| text | frames | matched | no match | mean score |", "|---|---|---|---|---|"]
        for text, r in summary["referring"].items():
            lines.append(f"| {text} | {r['frames']} | {r['matched']} | {r['no_match']} | {r['mean_score']:.3f} |")
    else:
        lines.append("No referring text was active.")
    lines += _edit_lines(summary)
    lines += ["", "## Output topics", "", "| topic | messages |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary["outputs"].items()]
    lines += ["", *[f"![{p}]({p})" for p in plots], ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
