"""Does the fusion control do what it claims? Measured on real pairs.

* Inclination: for control strengths from -1 (toward visible) to +1 (toward infrared) over
  the whole image, the mean MI(IR, F) should rise and MI(VIS, F) fall, monotonically.
* Region control: with the control set only inside the labelled object boxes, pixels
  outside must stay within 1 gray level of plain fusion on average, and pixels inside move.
* Text gate: a text embedding changes the output measurably, in the intended direction
  (MI toward the source the text asks for); needs embeddings from a sentence encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..color import to_gray
from ..data import Pair, PairDataset
from ..fusion import FusionMethod
from .metrics import mutual_information

STRENGTHS = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0)


def mi_to_source(source: np.ndarray, fused: np.ndarray) -> float:
    """MI(source, F) in nats (the project's MI is the sum over two sources, so halve it)."""
    return mutual_information(source, source, fused) / 2.0


@dataclass
class ControlReport:
    strengths: Sequence[float]
    mi_ir: list[float] = field(default_factory=list)
    mi_vis: list[float] = field(default_factory=list)
    region_inside_change: float = float("nan")
    region_outside_change: float = float("nan")
    region_pairs: int = 0
    pairs: int = 0
    #: text gate: inclination -> (mean change of MI(IR,F), mean change of MI(VIS,F), share of
    #: (phrase, pair) cases moving in the intended direction, phrases) against plain fusion
    text: dict[int, tuple[float, float, float, int]] = field(default_factory=dict)

    @property
    def monotonic(self) -> bool:
        """MI(IR,F) non-decreasing and MI(VIS,F) non-increasing along the strengths."""
        return bool(np.all(np.diff(self.mi_ir) >= 0) and np.all(np.diff(self.mi_vis) <= 0))

    def markdown(self) -> str:
        lines = ["| control strength | MI(IR,F) nats | MI(VIS,F) nats |", "|---|---|---|"]
        lines += [f"| {s:+.2f} | {a:.3f} | {b:.3f} |" for s, a, b in zip(self.strengths, self.mi_ir, self.mi_vis,
                                                                         strict=True)]
        lines += ["", f"Monotonic over {self.pairs} pairs: {'yes' if self.monotonic else 'NO'}", "",
                  f"Region control (+1 inside the labelled boxes, {self.region_pairs} pairs): mean |change| "
                  f"inside {self.region_inside_change:.2f} gray levels, outside {self.region_outside_change:.3f}"]
        if self.text:
            lines += ["", "Text gate, held-out phrases (never trained on) against plain fusion:", "",
                      "| phrases asking for | phrases | mean ΔMI(IR,F) | mean ΔMI(VIS,F) | cases moving as intended |",
                      "|---|---|---|---|---|"]
            for label, (d_ir, d_vis, share, count) in sorted(self.text.items(), reverse=True):
                name = "infrared" if label > 0 else "visible"
                lines.append(f"| {name} | {count} | {d_ir:+.3f} | {d_vis:+.3f} | {share:.0%} |")
        return "\n".join(lines)


def _box_mask(pair: Pair) -> np.ndarray:
    mask = np.zeros(pair.ir.shape, bool)
    for _, x1, y1, x2, y2 in pair.boxes:
        mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = True
    return mask


def evaluate_control(method: FusionMethod, dataset: PairDataset, *, limit: int | None = None,
                     strengths: Sequence[float] = STRENGTHS, progress: bool = True,
                     text_prompts: dict[int, np.ndarray] | None = None) -> ControlReport:
    """Inclination and region-control measurements (the method must take a ``control`` map);
    with ``text_prompts`` (inclination -> embeddings) also the text gate's effect."""
    report = ControlReport(strengths)
    text_changes: dict[int, list[tuple[float, float]]] = {label: [] for label in text_prompts or {}}
    sums = np.zeros((len(strengths), 2))
    inside, outside = [], []
    records = dataset.records[:limit] if limit else dataset.records
    for record in tqdm(records, desc="control eval", unit="pair", disable=not progress):
        pair = dataset.load(record)
        ir, vis_gray = pair.ir.astype(np.float64), to_gray(pair.vis)
        plain = None
        for index, strength in enumerate(strengths):
            fused = to_gray(method.fuse(pair.ir, pair.vis, control=np.full(pair.ir.shape, strength, np.float32)))
            sums[index] += (mi_to_source(ir, fused), mi_to_source(vis_gray, fused))
            if strength == 0.0:
                plain = fused
        mask = _box_mask(pair)
        if plain is not None and mask.any() and not mask.all():
            edited = to_gray(method.fuse(pair.ir, pair.vis, control=mask.astype(np.float32)))
            change = np.abs(edited - plain)
            inside.append(float(change[mask].mean()))
            outside.append(float(change[~mask].mean()))
        if plain is not None:
            plain_mi = (mi_to_source(ir, plain), mi_to_source(vis_gray, plain))
            for label, embeddings in (text_prompts or {}).items():
                for embedding in embeddings:
                    fused = to_gray(method.fuse(pair.ir, pair.vis, text=embedding))
                    text_changes[label].append((mi_to_source(ir, fused) - plain_mi[0],
                                                mi_to_source(vis_gray, fused) - plain_mi[1]))
        report.pairs += 1
    for label, changes in text_changes.items():
        if changes:
            values = np.array(changes)
            intended = (np.sign(values[:, 0]) == np.sign(label)) & (np.sign(values[:, 1]) == -np.sign(label))
            report.text[label] = (float(values[:, 0].mean()), float(values[:, 1].mean()), float(intended.mean()),
                                  len(text_prompts[label]))
    report.mi_ir = list(sums[:, 0] / max(report.pairs, 1))
    report.mi_vis = list(sums[:, 1] / max(report.pairs, 1))
    if inside:
        report.region_inside_change = float(np.mean(inside))
        report.region_outside_change = float(np.mean(outside))
        report.region_pairs = len(inside)
    return report
