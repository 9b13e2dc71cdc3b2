"""TeRF-Table-2-style measurement of the text-commanded edits (whole-image edits on RoadScene).

Each effect is commanded in words through :class:`EditSession`, exactly as an operator would,
and compared with the unedited fusion: AG, SSIM, SF, Qabf, EN, SD (the project's metric
functions; SSIM is the CDDFuse convention, sum over the two sources), plus the mean luminance,
MI(IR,F) and MI(VIS,F), which tell whether each edit moved the way it says. The denoising rows
add Gaussian noise to the visible image (σ on a 0-255 scale, seeded per pair) and report how
much of the clean fusion comes back (PSNR against the fusion of the clean inputs), denoising
after fusion and before fusion as TeRF does. Metrics are always computed against the *clean*
sources. A region part (object boxes as masks, MSRS) measures how much pixels outside the mask
move. Times are wall-clock on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..color import split_luma, to_gray
from ..data import PairDataset
from ..evaluation.control_eval import mi_to_source
from ..evaluation.metrics import average_gradient, entropy, qabf, spatial_frequency, ssim, standard_deviation
from ..fusion import FusionMethod
from .denoise import fit_zero_shot_unit, fixed_denoise
from .session import EditSession

TABLE_METRICS = ("AG", "SSIM", "SF", "Qabf", "EN", "SD")
EXTRA_METRICS = ("Y_mean", "MI_IR", "MI_VIS", "PSNR_clean")

#: Whole-image edits and the sentence that commands each one.
WHOLE_IMAGE_EDITS: tuple[tuple[str, str], ...] = (
    ("(I) infrared inclination", "lean toward infrared everywhere"),
    ("(II) visible inclination", "more visible detail everywhere"),
    ("(III) brighten", "brighten the image"),
    ("(IV) darken", "darken the image"),
    ("(H) highlight", "highlight everything"),
)
NOISY, AFTER, FIXED, BEFORE = ("(V) fused with noisy VIS", "(VI) denoise fused (V), ZS-N2N unit",
                               "(VI-f) fixed Gaussian after fusion", "(VII) ZS-N2N on VIS, then fuse")
#: Region edits on object masks: command with the target phrase "the objects".
REGION_EDITS = ("brighten the objects", "darken the objects", "highlight the objects", "denoise the objects",
                "show the objects in infrared", "more visible detail on the objects")

#: TeRF's per-image fine-tuning times (Table 3, RTX 3090).
TERF_SECONDS = {"inclination": 26.86, "denoise": 6.22, "illumination": 33.53}


def frame_metrics(ir: np.ndarray, vis_gray: np.ndarray, fused_rgb: np.ndarray,
                  clean_fused_gray: np.ndarray | None = None) -> dict[str, float]:
    """The Table-2 metrics and the direction metrics of one fused frame against the clean sources."""
    f = to_gray(fused_rgb)
    a = ir.astype(np.float64)
    row = {"AG": average_gradient(f), "SSIM": ssim(a, vis_gray, f), "SF": spatial_frequency(f),
           "Qabf": qabf(a, vis_gray, f), "EN": entropy(f), "SD": standard_deviation(f), "Y_mean": float(f.mean()),
           "MI_IR": mi_to_source(a, f), "MI_VIS": mi_to_source(vis_gray, f)}
    row["PSNR_clean"] = psnr(f, clean_fused_gray) if clean_fused_gray is not None else float("nan")
    return row


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0 ** 2 / mse))


def add_noise(vis: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Visible RGB plus i.i.d. Gaussian noise of standard deviation ``sigma`` (0-255 scale), clipped."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, vis.shape)
    return np.clip(vis.astype(np.float64) + noise + 0.5, 0, 255).astype(np.uint8)


def denoise_visible(vis: np.ndarray) -> tuple[np.ndarray, float]:
    """Visible RGB with its luminance denoised by a ZS-N2N unit fitted on it (chroma kept), and the fit time."""
    y, _ = split_luma(vis)
    unit = fit_zero_shot_unit(y.astype(np.float32))
    delta = unit.apply(y.astype(np.float32)) - y
    out = np.clip(vis.astype(np.float32) + delta[..., None] + 0.5, 0, 255).astype(np.uint8)
    return out, unit.fit_seconds


@dataclass
class EditEvaluation:
    """Per-setting mean metrics, direction checks, region leakage and timings."""

    pairs: int = 0
    sigma: float = 25.0
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    cpu_times: dict[str, list[float]] = field(default_factory=dict)
    region: dict[str, tuple[float, float]] = field(default_factory=dict)
    region_pairs: int = 0

    def _add(self, setting: str, values: dict[str, float]) -> None:
        acc = self.rows.setdefault(setting, {})
        for key, value in values.items():
            acc[key] = acc.get(key, 0.0) + value

    def _time(self, key: str, seconds: tuple[float, float]) -> None:
        """Record (wall, process CPU) seconds of one step."""
        self.times.setdefault(key, []).append(seconds[0])
        self.cpu_times.setdefault(key, []).append(seconds[1])

    def mean(self, setting: str) -> dict[str, float]:
        return {k: v / max(self.pairs, 1) for k, v in self.rows[setting].items()}

    def directions(self) -> list[tuple[str, str, bool]]:
        """(setting, expected change, holds) for every edit."""
        base = self.mean("baseline")
        m = {s: self.mean(s) for s in self.rows}
        checks = [
            ("(I) infrared inclination", "MI(IR,F) up, MI(VIS,F) down",
             m["(I) infrared inclination"]["MI_IR"] > base["MI_IR"]
             and m["(I) infrared inclination"]["MI_VIS"] < base["MI_VIS"]),
            ("(II) visible inclination", "MI(VIS,F) up, MI(IR,F) down",
             m["(II) visible inclination"]["MI_VIS"] > base["MI_VIS"]
             and m["(II) visible inclination"]["MI_IR"] < base["MI_IR"]),
            ("(III) brighten", "mean luminance up", m["(III) brighten"]["Y_mean"] > base["Y_mean"]),
            ("(IV) darken", "mean luminance down", m["(IV) darken"]["Y_mean"] < base["Y_mean"]),
            ("(H) highlight", "SD and AG up", m["(H) highlight"]["SD"] > base["SD"]
             and m["(H) highlight"]["AG"] > base["AG"]),
        ]
        if NOISY in m:
            checks += [
                (AFTER, "PSNR to clean fusion up and AG down vs (V)",
                 m[AFTER]["PSNR_clean"] > m[NOISY]["PSNR_clean"] and m[AFTER]["AG"] < m[NOISY]["AG"]),
                (BEFORE, "PSNR to clean fusion up vs (V)", m[BEFORE]["PSNR_clean"] > m[NOISY]["PSNR_clean"]),
            ]
        return checks

    @property
    def all_directions_hold(self) -> bool:
        return all(ok for _, _, ok in self.directions())

    def markdown(self, dataset: str, method: str) -> str:
        columns = (*TABLE_METRICS, *EXTRA_METRICS)
        lines = [f"Whole-image edits on {dataset}, {self.pairs} pairs, fusion `{method}`; means over pairs. "
                 "SSIM: sum of SSIM(F,IR)+SSIM(F,VIS), 7x7 uniform window, data range 2 (CDDFuse convention); "
                 "EN in bits; MI in nats; metrics against the clean sources. Noise rows: Gaussian σ = "
                 f"{self.sigma:g} (0-255) added to the visible RGB; PSNR_clean = PSNR (dB) of the gray fused image "
                 "against the fusion of the clean pair.", "",
                 "| setting | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
        for setting in self.rows:
            values = self.mean(setting)
            lines.append(f"| {setting} | " + " | ".join(f"{values[c]:.4f}" if c in TABLE_METRICS else
                                                        f"{values[c]:.2f}" for c in columns) + " |")
        lines += ["", "Direction of each change (against the unedited fusion, or against (V) for denoising):", "",
                  "| setting | expected | holds |", "|---|---|---|"]
        lines += [f"| {s} | {e} | {'yes' if ok else 'NO'} |" for s, e, ok in self.directions()]
        if self.region:
            lines += ["", f"Region edits (target \"the objects\" = union of the labelled boxes, {self.region_pairs} "
                      "pairs): mean |change| of gray level against the unedited fusion", "",
                      "| command | inside the mask | outside the mask |", "|---|---|---|"]
            lines += [f"| {c} | {i:.2f} | {o:.3f} |" for c, (i, o) in self.region.items()]
        lines += ["", "Time per image on this machine (2 CPU cores shared with other jobs: wall clock, mean / max "
                  "over pairs, and this process's CPU time, all threads):", "",
                  "| step | wall mean | wall max | CPU mean | TeRF (RTX 3090, per image) |", "|---|---|---|---|---|"]
        terf = {"inclination": f"{TERF_SECONDS['inclination']} s", "denoise adaptation": f"{TERF_SECONDS['denoise']} s",
                "illumination": f"{TERF_SECONDS['illumination']} s"}
        for key, values in self.times.items():
            ref = next((v for k, v in terf.items() if key.startswith(k)), "")
            unit, scale = ("ms", 1000.0) if max(values) < 1.0 else ("s", 1.0)
            cpu = np.mean(self.cpu_times[key]) * scale
            lines.append(f"| {key} | {np.mean(values) * scale:.2f} {unit} | {np.max(values) * scale:.2f} {unit} "
                         f"| {cpu:.2f} {unit} | {ref} |")
        return "\n".join(lines)


def _timed(fn, *args, **kwargs):
    """(result, (wall seconds, process CPU seconds))."""
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - start, time.process_time() - start_cpu)


def evaluate_edits(fusion: FusionMethod, dataset: PairDataset, *, limit: int | None = None, sigma: float = 25.0,
                   noise: bool = True, seed: int = 0, progress: bool = True) -> EditEvaluation:
    """Whole-image edits (and the noise experiment) on every pair of ``dataset``."""
    result = EditEvaluation(sigma=sigma)
    records = dataset.records[:limit] if limit else dataset.records
    for index, record in enumerate(tqdm(records, desc="edit eval", unit="pair", disable=not progress)):
        pair = dataset.load(record)
        ir, vis = pair.ir, pair.vis
        vis_gray = to_gray(vis)
        plain = fusion.fuse(ir, vis)
        result._add("baseline", frame_metrics(ir, vis_gray, plain))
        for setting, command in WHOLE_IMAGE_EDITS:
            session = EditSession(background=False)
            reply = session.command(command)
            if not reply.ok:
                raise RuntimeError(f"evaluation command '{command}' was not understood: {reply.message}")
            if "inclination" in setting:
                control, seconds = _timed(session.control_map, ir.shape, {})
                edited = fusion.fuse(ir, vis, control=control)
                result._time("inclination: control map per frame", seconds)
            else:
                edited, seconds = _timed(session.apply, plain, {})
                key = "illumination: per frame" if setting in ("(III) brighten", "(IV) darken") else \
                    "highlight: per frame"
                result._time(key, seconds)
            result._add(setting, frame_metrics(ir, vis_gray, edited))
        if noise:
            clean_gray = to_gray(plain)
            noisy_vis = add_noise(vis, sigma, seed + index)
            noisy_fused = fusion.fuse(ir, noisy_vis)
            result._add(NOISY, frame_metrics(ir, vis_gray, noisy_fused, clean_gray))
            session = EditSession(background=False)
            session.command("denoise")
            denoised, seconds = _timed(session.apply, noisy_fused, {})  # first frame: adaptation + apply
            unit_status = session.status()["denoise"]["everything"]
            if not unit_status.startswith("ready"):
                raise RuntimeError(f"denoise adaptation did not finish: {unit_status}")
            result._time("denoise adaptation (ZS-N2N, after fusion)", seconds)
            _, apply_seconds = _timed(session.apply, noisy_fused, {})
            result._time("denoise: per frame", apply_seconds)
            result._add(AFTER, frame_metrics(ir, vis_gray, denoised, clean_gray))
            y, _ = split_luma(noisy_fused)
            blurred = fixed_denoise(y.astype(np.float32))
            fixed = np.clip(noisy_fused.astype(np.float32) + (blurred - y)[..., None] + 0.5, 0, 255).astype(np.uint8)
            result._add(FIXED, frame_metrics(ir, vis_gray, fixed, clean_gray))
            (clean_vis, _), seconds = _timed(denoise_visible, noisy_vis)
            result._time("denoise adaptation (ZS-N2N, on VIS before fusion)", seconds)
            result._add(BEFORE, frame_metrics(ir, vis_gray, fusion.fuse(ir, clean_vis), clean_gray))
        result.pairs += 1
    return result


def evaluate_region_edits(fusion: FusionMethod, dataset: PairDataset, result: EditEvaluation, *,
                          limit: int | None = None, commands: Sequence[str] = REGION_EDITS,
                          progress: bool = True) -> None:
    """Mean |gray change| inside and outside the union of labelled boxes for each region command."""
    sums = {c: [0.0, 0.0] for c in commands}
    count = 0
    records = dataset.records[:limit] if limit else dataset.records
    for record in tqdm(records, desc="region edits", unit="pair", disable=not progress):
        pair = dataset.load(record)
        mask = np.zeros(pair.ir.shape, bool)
        for _, x1, y1, x2, y2 in pair.boxes:
            mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = True
        if not mask.any() or mask.all():
            continue
        masks = {"objects": mask}
        plain = to_gray(fusion.fuse(pair.ir, pair.vis))
        for command in commands:
            session = EditSession(background=False)
            if not session.command(command).ok:
                raise RuntimeError(f"region command '{command}' was not understood")
            change = np.abs(to_gray(session.render(pair.ir, pair.vis, masks, fusion)) - plain)
            sums[command][0] += float(change[mask].mean())
            sums[command][1] += float(change[~mask].mean())
        count += 1
    result.region = {c: (v[0] / max(count, 1), v[1] / max(count, 1)) for c, v in sums.items()}
    result.region_pairs = count
