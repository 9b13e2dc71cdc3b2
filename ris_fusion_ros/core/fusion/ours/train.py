"""Reproducible training of RisFuseNet on RoadScene, LLVIP and M3FD (never MSRS).

Held out from training, so the project's evaluations on them are clean: the 50 RoadScene
test pairs used by CDDFuse (``splits/cddfuse_test50.txt``), all of TNO, and the LLVIP test
split (used here for validation). Everything random is drawn from one seeded generator.
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...color import split_luma
from ...data import PairDataset, open_dataset, read_split
from ...io.csv_log import CsvLog
from .losses import FusionLossWeights, fusion_loss
from .model import TEXT_DIM, RisFuseNet


@dataclass
class TrainConfig:
    """Every setting that decides the trained weights (saved next to them)."""

    steps: int = 4000
    batch: int = 16
    crop: int = 128
    lr: float = 2e-3
    min_lr: float = 5e-5
    weight_decay: float = 1e-4
    width: int = 24
    seed: int = 0
    threads: int = 2
    control_probability: float = 0.5
    #: share of crops that carry a text prompt instead of a control map (teaches the text gate)
    text_probability: float = 0.0
    #: inclination a text prompt asks for, as a control value (prompt class x strength)
    text_strength: float = 0.8
    #: weights to start from (fine-tuning); None = random initialisation
    init: str | None = None
    validate_every: int = 250
    #: weight of the detection-driven term (0 = off); the frozen detector and its pseudo-labels
    detection_weight: float = 0.0
    detection_batch: int = 4
    detection_canvas: int = 384
    detection_weights: str | None = None
    loss: FusionLossWeights = field(default_factory=FusionLossWeights)


@dataclass
class LumaPair:
    """A training pair as uint8 planes: infrared and visible luminance."""

    name: str
    ir: np.ndarray
    vis_y: np.ndarray


def _load_pairs(dataset: PairDataset, exclude: set[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(``<set>/<id>``, infrared, visible RGB) of every pair not in ``exclude``."""
    pairs = []
    for record in dataset.records:
        if record.pair_id in exclude:
            continue
        pair = dataset.load(record)
        pairs.append((f"{dataset.spec.name}/{pair.pair_id}", pair.ir, pair.vis))
    return pairs


def _luma(pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> list[LumaPair]:
    return [LumaPair(name, ir, split_luma(vis)[0]) for name, ir, vis in pairs]


def training_sources(shared: str | Path | None = None) -> list[tuple[PairDataset, set[str]]]:
    """(data set, ids left out) for every training set: RoadScene, LLVIP, M3FD; never MSRS."""
    roadscene = open_dataset("roadscene", shared=shared)
    llvip = open_dataset("llvip", shared=shared)
    return [(roadscene, set(read_split(roadscene.root / "splits" / "cddfuse_test50.txt"))),
            (llvip, set(read_split(llvip.root / "splits" / "test.txt"))),
            (open_dataset("m3fd", shared=shared), set())]


def load_training_data(shared: str | Path | None = None, keep_rgb: bool = False
                       ) -> tuple[list[LumaPair], list[LumaPair], list[tuple[str, np.ndarray, np.ndarray]]]:
    """(training pairs, validation pairs, the training pairs in RGB when ``keep_rgb`` else []) with the
    hold-outs described in the module docstring; every file is read once."""
    sources = training_sources(shared)
    rgb = [pair for dataset, exclude in sources for pair in _load_pairs(dataset, exclude)]
    llvip, llvip_test = sources[1]
    validation = _luma(_load_pairs(llvip, set(llvip.ids) - llvip_test))
    return _luma(rgb), validation, (rgb if keep_rgb else [])


def detection_setup(config: TrainConfig, shared: str | Path | None,
                    pairs: list[tuple[str, np.ndarray, np.ndarray]]):
    """Pseudo-labelled frames of ``pairs`` (name, infrared, visible RGB) and the frozen detector for the
    detection-driven term."""
    from ...detection import create_detector
    from ...detection.detector import WEIGHT_FILES, weights_dir
    from .detection_term import PSEUDO_CLASSES, DetectionTerm, build_frames

    weights = Path(config.detection_weights) if config.detection_weights else \
        weights_dir(shared) / WEIGHT_FILES["yolov5n"]
    detector = create_detector("yolov5n", shared=shared)
    class_ids = [detector.class_names.index(name) for name in PSEUDO_CLASSES]
    canvas = (config.detection_canvas, config.detection_canvas)
    frames = build_frames(pairs, detector.detect, class_ids, canvas)
    detector.close()
    return frames, DetectionTerm(weights, config.detection_canvas)


def _random_crop(pair: LumaPair, rng: np.random.Generator, crop: int) -> np.ndarray:
    """A (2, crop, crop) float32 crop in [0, 1], from a randomly down-scaled and flipped pair."""
    ir, vis = pair.ir, pair.vis_y
    height, width = ir.shape
    scale = rng.uniform(0.5, 1.0) if min(height, width) >= 2 * crop else 1.0
    size = min(int(crop / scale), height, width)
    top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
    stack = np.stack((ir[top:top + size, left:left + size], vis[top:top + size, left:left + size]))
    if size != crop:
        index = np.minimum((np.arange(crop) * size / crop + size / crop / 2).astype(int), size - 1)
        stack = stack[:, index][:, :, index]
    if rng.random() < 0.5:
        stack = stack[:, :, ::-1]
    return stack.astype(np.float32) / 255.0


def random_control(rng: np.random.Generator, crop: int, probability: float) -> np.ndarray:
    """A control map: zero (plain fusion) with 1 - probability; else a constant strength over the
    whole crop, or a strength inside one or two random rectangles/ellipses with sharp edges."""
    control = np.zeros((crop, crop), np.float32)
    if rng.random() >= probability:
        return control
    if rng.random() < 0.3:
        control[:] = rng.uniform(-1, 1)
        return control
    yy, xx = np.mgrid[:crop, :crop]
    for _ in range(rng.integers(1, 3)):
        cy, cx = rng.uniform(0, crop, 2)
        ry, rx = rng.uniform(crop * 0.1, crop * 0.5, 2)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1 if rng.random() < 0.5 else \
            (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        control[inside] = rng.uniform(-1, 1)
    return control


def sample_batch(pairs: list[LumaPair], rng: np.random.Generator, config: TrainConfig,
                 prompts: dict[int, np.ndarray] | None = None) -> dict[str, torch.Tensor]:
    """Random crops with their network inputs and the control the loss targets.

    A crop carries a text prompt with probability ``text_probability`` (then the control
    input is zero and the target is the prompt's inclination x ``text_strength``
    everywhere), else a random control map that is also its own target.
    """
    crops = np.stack([_random_crop(pairs[rng.integers(len(pairs))], rng, config.crop) for _ in range(config.batch)])
    controls = np.stack([random_control(rng, config.crop, config.control_probability) for _ in range(config.batch)])
    targets = controls.copy()
    texts = np.zeros((config.batch, TEXT_DIM), np.float32)
    if prompts:
        classes = sorted(prompts)
        for i in range(config.batch):
            if rng.random() < config.text_probability:
                label = classes[rng.integers(len(classes))]
                texts[i] = prompts[label][rng.integers(len(prompts[label]))]
                controls[i] = 0.0
                targets[i] = label * config.text_strength
    return {"ir": torch.from_numpy(crops[:, :1].copy()), "vis": torch.from_numpy(crops[:, 1:].copy()),
            "control": torch.from_numpy(controls[:, None]), "target_control": torch.from_numpy(targets[:, None]),
            "text": torch.from_numpy(texts)}


def prompt_embeddings() -> dict[int, np.ndarray]:
    """Sentence embeddings of the training phrases, per inclination (loads the encoder once)."""
    from ...text.encoder import encode
    from .text_prompts import TRAIN_PROMPTS

    return {label: encode(list(phrases)) for label, phrases in TRAIN_PROMPTS.items()}


def _validation_batch(pairs: list[LumaPair], crop: int = 256) -> dict[str, torch.Tensor]:
    stacks = []
    for pair in pairs:
        h, w = pair.ir.shape
        top, left = (h - crop) // 2, (w - crop) // 2
        stacks.append(np.stack((pair.ir, pair.vis_y))[:, top:top + crop, left:left + crop])
    data = np.stack(stacks).astype(np.float32) / 255.0
    return {"ir": torch.from_numpy(data[:, :1].copy()), "vis": torch.from_numpy(data[:, 1:].copy()),
            "control": torch.zeros(len(pairs), 1, crop, crop)}


def train(config: TrainConfig, out_dir: Path, shared: str | Path | None = None, progress: bool = True,
          command: str = "") -> Path:
    """Train, write ``risfusenet.pt`` (state_dict + config), ``training_log.csv`` and ``training.json``."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    detection = config.detection_weight > 0
    train_pairs, validation_pairs, rgb_pairs = load_training_data(shared, keep_rgb=detection)
    model = RisFuseNet(width=config.width)
    if config.init:
        from .export import load_model

        model.load_state_dict(load_model(Path(config.init)).state_dict())
    prompts = prompt_embeddings() if config.text_probability > 0 else None
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps, eta_min=config.min_lr)
    validation = _validation_batch(validation_pairs)
    frames, detection_term = detection_setup(config, shared, rgb_pairs) if detection else ([], None)
    del rgb_pairs  # the frames hold what the term needs
    if detection_term is not None:
        from .detection_term import sample_detection_batch

        labelled = sum(len(f.boxes) > 0 for f in frames)
        print(f"detection term: {len(frames)} frames, {labelled} with pseudo-boxes "
              f"({sum(len(f.boxes) for f in frames)} boxes)", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = CsvLog(out_dir / "training_log.csv")
    start = time.time()
    bar = tqdm(range(1, config.steps + 1), desc="train fusion", unit="step", disable=not progress, dynamic_ncols=True)
    running = math.nan
    for step in bar:
        batch = sample_batch(train_pairs, rng, config, prompts)
        fused = model(batch["ir"], batch["vis"], batch["control"], batch["text"])
        loss, _ = fusion_loss(fused, batch["ir"], batch["vis"], batch["target_control"], config.loss)
        if detection_term is not None:
            d = sample_detection_batch(frames, rng, config.detection_batch)
            d_fused = model(d["ir"], d["vis"], d["control"], torch.zeros(len(d["ir"]), TEXT_DIM))
            d_fusion, _ = fusion_loss(d_fused, d["ir"], d["vis"], d["control"], config.loss)
            loss = loss + d_fusion + config.detection_weight * detection_term(d_fused, d)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        value = loss.item()
        running = value if math.isnan(running) else 0.98 * running + 0.02 * value
        bar.set_postfix(loss=f"{running:.4f}")
        if step % config.validate_every == 0 or step == config.steps:
            model.eval()
            with torch.no_grad():
                v = validation
                v_fused = model(v["ir"], v["vis"], v["control"], torch.zeros(len(v["ir"]), TEXT_DIM))
                v_loss, parts = fusion_loss(v_fused, v["ir"], v["vis"], v["control"], config.loss)
            model.train()
            row = {"step": step, "train_loss": running, "val_loss": v_loss.item(),
                   **{f"val_{k}": val for k, val in parts.items()},
                   "lr": schedule.get_last_lr()[0], "seconds": time.time() - start}
            log.append(row)
            if not progress:
                print(f"step {step}/{config.steps} train {running:.4f} val {row['val_loss']:.4f} "
                      f"({row['seconds']:.0f} s)", flush=True)
    weights = out_dir / "risfusenet.pt"
    torch.save({"state_dict": model.state_dict(), "config": asdict(config), "format": 1}, weights)
    meta = {"config": asdict(config), "command": command, "train_pairs": len(train_pairs),
            "validation_pairs": len(validation_pairs), "seconds": round(time.time() - start, 1),
            "final": log.last, "parameters": sum(p.numel() for p in model.parameters()),
            "torch": torch.__version__, "machine": f"{platform.machine()}, {config.threads} threads"}
    (out_dir / "training.json").write_text(json.dumps(meta, indent=2))
    return weights
