"""A realistic thermal + RGB test bag from image pairs: what a robot's two cameras record.

* RGB at ``rgb_rate_hz`` (30 Hz), ``rgb8``, with ``/rgb/camera_info``;
* thermal as ``mono16`` counts (``counts = base + gain * ir_uint8`` + noise: a radiometric-looking
  range that must be normalised), stamped by its **own clock** (``thermal_offset_seconds`` ahead
  of the RGB clock: replay/nodes undo it with ``thermal_offset_seconds`` = minus that value);
* stamp jitter (Gaussian, clipped at 3 sigma) on both cameras, and log (receive) times after the
  stamps by a transport delay;
* dropped frames on each stream, **isolated** (at least ``min_drop_spacing`` frames apart over
  both streams): each injected drop then leaves exactly one orphan partner, so the expected
  unmatched counts are known exactly and written to ``ris_fusion_manifest.json`` next to the bag;
* text messages on ``/referring_text`` at given times.

Seeded: the same arguments give the same bag.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import bag

MANIFEST = "ris_fusion_manifest.json"
THERMAL_TOPIC, RGB_TOPIC, RGB_INFO_TOPIC, TEXT_TOPIC = ("/thermal/image_raw", "/rgb/image_raw", "/rgb/camera_info",
                                                      "/referring_text")


@dataclass
class BagPlan:
    """What to generate; times in seconds."""

    frames: int = 300
    rgb_rate_hz: float = 30.0
    thermal_offset_seconds: float = 0.120  # thermal clock minus RGB clock
    jitter_ms: float = 2.0  # sigma of the stamp jitter (clipped at 3 sigma)
    drop_rgb: float = 0.02  # probability that an RGB frame is dropped
    drop_thermal: float = 0.03
    min_drop_spacing: int = 3
    thermal_base: int = 7000
    thermal_gain: int = 100
    thermal_noise: float = 8.0  # sigma in counts
    start_seconds: float = 1_700_000_000.0
    texts: list[tuple[float, str]] = field(default_factory=list)
    seed: int = 0
    storage: str = "mcap"

    def validate(self) -> BagPlan:
        if self.frames < 1:
            raise ConfigError(f"frames must be >= 1, got {self.frames}")
        if not 0 < self.rgb_rate_hz <= 1000:
            raise ConfigError(f"rgb_rate_hz must be within (0, 1000], got {self.rgb_rate_hz}")
        period_ms = 1000.0 / self.rgb_rate_hz
        if not 0 <= 3 * self.jitter_ms < period_ms / 4:
            raise ConfigError(f"jitter_ms {self.jitter_ms} is too large for {self.rgb_rate_hz} Hz "
                              f"(3 sigma must stay under a quarter period, {period_ms / 4:.1f} ms)")
        for name in ("drop_rgb", "drop_thermal"):
            if not 0 <= getattr(self, name) < 0.2:
                raise ConfigError(f"{name} must be within [0, 0.2), got {getattr(self, name)}")
        if self.thermal_base + 255 * self.thermal_gain + 4 * self.thermal_noise > 65535:
            raise ConfigError("thermal_base + 255 * thermal_gain does not fit mono16")
        return self


@dataclass
class Manifest:
    """What the generator injected (written next to the bag)."""

    plan: dict[str, Any]
    pair_ids: list[str]
    rgb_frames: int
    thermal_frames: int
    rgb_dropped: list[int]
    thermal_dropped: list[int]
    expected_pairs: int
    expected_unmatched: dict[str, int]
    replay_params: dict[str, Any]
    topics: dict[str, int]


def _drops(rng: np.random.Generator, frames: int, p_rgb: float, p_thermal: float,
           spacing: int) -> tuple[list[int], list[int]]:
    """Isolated drops: no two drops (either stream) within ``spacing`` frames, none at the ends."""
    rgb, thermal, last = [], [], -10 * spacing
    for i in range(1, frames - 1):
        if i - last < spacing:
            continue
        u = rng.random()
        if u < p_rgb:
            rgb.append(i)
            last = i
        elif u < p_rgb + p_thermal:
            thermal.append(i)
            last = i
    return rgb, thermal


def make_bag(pairs: Sequence[tuple[str, np.ndarray, np.ndarray]] | Callable[[int], tuple[str, np.ndarray, np.ndarray]],
             n_pairs: int, out: str | Path, plan: BagPlan, progress: Callable[[int], None] | None = None) -> Manifest:
    """Write the bag to ``out``; ``pairs`` is a list of (id, ir uint8 HxW, vis uint8 HxWx3 RGB) or a loader
    by index, cycled when ``plan.frames`` exceeds ``n_pairs``."""
    plan.validate()
    if n_pairs < 1:
        raise ConfigError("no image pairs to build the bag from")
    load = pairs if callable(pairs) else (lambda index: pairs[index])
    rng = np.random.default_rng(plan.seed)
    period = 1.0 / plan.rgb_rate_hz
    rgb_drop, thermal_drop = _drops(rng, plan.frames, plan.drop_rgb, plan.drop_thermal, plan.min_drop_spacing)
    rgb_drop_set, thermal_drop_set = set(rgb_drop), set(thermal_drop)
    sigma = plan.jitter_ms / 1e3

    def jitter() -> float:
        return float(np.clip(rng.normal(0.0, sigma), -3 * sigma, 3 * sigma)) if sigma > 0 else 0.0

    texts = sorted(plan.texts)
    ids: list[str] = []
    out = Path(out)
    writer = bag.BagWriter(out, plan.storage)
    cache: dict[int, tuple[str, np.ndarray, np.ndarray]] = {}
    try:
        text_iter = iter(texts)
        pending_text = next(text_iter, None)
        for i in range(plan.frames):
            t_true = plan.start_seconds + i * period
            while pending_text is not None and pending_text[0] + plan.start_seconds <= t_true:
                log_ns = round((plan.start_seconds + pending_text[0]) * 1e9)
                writer.write(TEXT_TOPIC, "std_msgs/msg/String", bag.string(pending_text[1]), log_ns)
                pending_text = next(text_iter, None)
            index = i % n_pairs
            if index not in cache:
                if len(cache) > 64:
                    cache.clear()
                cache[index] = load(index)
            pair_id, ir, vis = cache[index]
            ids.append(pair_id)
            height, width = ir.shape[:2]
            rgb_stamp = round((t_true + jitter()) * 1e9)
            thermal_stamp = round((t_true + plan.thermal_offset_seconds + jitter()) * 1e9)
            # receive order: RGB ~5 ms after exposure, thermal ~15 ms (a slower pipeline)
            rgb_log = round((t_true + 0.005) * 1e9)
            thermal_log = round((t_true + 0.015) * 1e9)
            if i not in rgb_drop_set:
                writer.write(RGB_TOPIC, "sensor_msgs/msg/Image", bag.image(vis, "rgb8", rgb_stamp, "rgb_optical"),
                             rgb_log)
                writer.write(RGB_INFO_TOPIC, "sensor_msgs/msg/CameraInfo",
                             bag.camera_info(vis.shape[1], vis.shape[0], rgb_stamp, "rgb_optical"), rgb_log)
            if i not in thermal_drop_set:
                noise = rng.normal(0.0, plan.thermal_noise, (height, width)) if plan.thermal_noise > 0 else 0.0
                counts = np.clip(plan.thermal_base + plan.thermal_gain * ir.astype(np.float64) + noise, 0, 65535)
                writer.write(THERMAL_TOPIC, "sensor_msgs/msg/Image",
                             bag.image(np.rint(counts).astype(np.uint16), "mono16", thermal_stamp, "thermal_optical"),
                             thermal_log)
            if progress is not None:
                progress(1)
        end = plan.start_seconds + plan.frames * period
        while pending_text is not None:
            writer.write(TEXT_TOPIC, "std_msgs/msg/String", bag.string(pending_text[1]),
                         round(max(end, plan.start_seconds + pending_text[0]) * 1e9))
            pending_text = next(text_iter, None)
    finally:
        writer.close()
    manifest = Manifest(
        plan=asdict(plan), pair_ids=ids, rgb_frames=plan.frames - len(rgb_drop),
        thermal_frames=plan.frames - len(thermal_drop), rgb_dropped=rgb_drop, thermal_dropped=thermal_drop,
        expected_pairs=plan.frames - len(rgb_drop) - len(thermal_drop),
        # an RGB drop orphans its thermal partner and vice versa (drops are isolated by construction)
        expected_unmatched={"thermal": len(rgb_drop), "rgb": len(thermal_drop)},
        replay_params={"thermal_offset_seconds": -plan.thermal_offset_seconds},
        topics=dict(writer.counts))
    (out / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1), encoding="utf-8")
    return manifest


def read_manifest(bag_path: str | Path) -> dict[str, Any] | None:
    path = Path(bag_path) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
