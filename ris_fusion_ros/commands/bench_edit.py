"""``ris-fusion bench edit``: per-frame cost of the active edits, and the time to prepare them."""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from ..core.editing import EditSession
from ..core.errors import ConfigError
from ..core.evaluation.speed import benchmark_frame, parse_size

#: (label, command, target mask): "objects" = a 160x240 box in the middle of the frame.
CASES = (
    ("brighten, whole frame", "brighten the image", None),
    ("darken, whole frame", "darken everything", None),
    ("highlight, whole frame", "highlight everything", None),
    ("denoise, whole frame", "denoise", None),
    ("brighten, region", "brighten the objects", "objects"),
    ("highlight, region", "highlight the objects", "objects"),
    ("denoise, background", "denoise the background", "objects"),
    ("infrared lean, region (control map)", "show the objects in infrared", "objects"),
    ("3 edits: brighten + highlight region, denoise rest", "brighten the objects and highlight them and denoise "
     "the rest", "objects"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    parser.add_argument("--runs", type=int, default=50, help="timed frames per case (default 50)")
    parser.add_argument("--out", help="also write bench_edit.md here")


def run(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    load = os.getloadavg()[0]
    ir, vis, source = benchmark_frame(width, height, shared=args.shared_root)
    from ..core.fusion import create_method

    fused = create_method("max").fuse(ir, vis)  # any fused frame: the edits' cost does not depend on it
    mask = np.zeros((height, width), bool)
    mask[height // 2 - 80:height // 2 + 80, width // 2 - 120:width // 2 + 120] = True
    lines = ["| edit | median ms | min-max ms | median CPU ms | preparation (once per command) |",
             "|---|---|---|---|---|"]
    for label, command, target in CASES:
        masks = {target: mask} if target else {}
        session = EditSession()
        if not session.command(command).ok:
            raise ConfigError(f"benchmark command '{command}' was not understood")
        incline = "infrared" in label
        start = time.perf_counter()
        session.control_map(ir.shape, masks) if incline else session.apply(fused, masks)
        first_ms = (time.perf_counter() - start) * 1000
        session.wait_ready(30.0)
        prep = session.status()["denoise"]
        prep_text = ", ".join(prep.values()) if prep else "none"
        if prep:
            prep_text += f"; first frame returned in {first_ms:.1f} ms while it ran"
        times, cpu = [], []
        for _ in range(args.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            session.control_map(ir.shape, masks) if incline else session.apply(fused, masks)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        lines.append(f"| {label} | {np.median(times):.2f} | {min(times):.2f}-{max(times):.2f} | {np.median(cpu):.2f} "
                     f"| {prep_text} |")
    header = (f"Edit cost per frame, {source}; {args.runs} timed frames per case after one untimed frame; "
              f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after (wall times grow with other processes' load; CPU ms is this "
              "process's CPU time per frame, all its threads). "
              "Inclination is the control-map construction only: the map goes into the fusion call the stream "
              "makes anyway.")
    text = header + "\n\n" + "\n".join(lines)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_edit.md").write_text(f"# Edit speed\n\n{text}\n", encoding="utf-8")
    return 0
