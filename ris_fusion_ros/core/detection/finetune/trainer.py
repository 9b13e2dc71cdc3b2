"""Seeded fine-tuning of YOLOv5n(-seg) and YOLOX-Nano on fused frames.

The first ``frozen_layers`` layers (YOLOv5: layers, 10 = the backbone; YOLOX: backbone stages) stay frozen,
the rest trains (SGD with warm-up and cosine decay, an exponential moving average of the weights is what
gets saved). For the YOLOv5 segmentation model the prototype branch is frozen and the mask coefficients
are distilled from the frozen original at the assigned cells, so instance masks keep working (the labels
have boxes only). Each architecture sits behind a small trainee wrapper (model, trainable parameters,
train mode, loss, checkpoint); the loop is shared.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...errors import ConfigError
from ...io.csv_log import CsvLog
from ...paths import portable_path
from ..classes import COCO80
from ..yolov5 import STRIDES, build_yolov5, class_names, file_sha256, load_checkpoint
from ..yolox import BACKBONE_STAGES as YOLOX_STAGES
from ..yolox import LICENSE as YOLOX_LICENSE
from ..yolox import STRIDES as YOLOX_STRIDES
from ..yolox import load_onnx_weights
from .loss import LossWeights, YoloV5Loss
from .paste import ObjectPool
from .samples import Augment, Sample, collate, draw, draw_weights, epoch_draws
from .yolox_loss import YoloXLoss

BACKBONE_LAYERS = 10  # 0-9; computed without a graph when all of them are frozen


@dataclass
class FinetuneConfig:
    """Every setting that decides the fine-tuned weights (saved with them)."""

    epochs: int = 30
    batch: int = 8
    lr: float = 0.01
    min_lr_ratio: float = 0.05
    momentum: float = 0.937
    weight_decay: float = 5e-4
    warmup_epochs: float = 2.0
    ema_decay: float = 0.999
    ema_ramp: float = 100.0
    canvas: tuple[int, int] = (640, 640)  # the detector's default letterbox size
    seed: int = 0
    threads: int = 2
    distill: float = 1.0
    frozen_layers: int = BACKBONE_LAYERS  # the first N layers keep their weights and BatchNorm statistics
    augment: Augment = field(default_factory=Augment)
    balance: float = 0.0  # > 0: frames with rare classes drawn more often (balance_weights); same epoch length
    pseudo_share: float = 0.0  # share of the draws that go to pseudo-labelled frames (draw_weights)


class WeightAverage:
    """Exponential moving average of the parameters and buffers, ramped in over the first updates."""

    def __init__(self, model: torch.nn.Module, decay: float, ramp: float) -> None:
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay, self.ramp, self.updates = decay, ramp, 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.ramp))
        current = model.state_dict()
        for name, value in self.model.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(d).add_(current[name].detach(), alpha=1 - d)


def _param_groups(params: Sequence[torch.nn.Parameter], weight_decay: float) -> list[dict]:
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class YoloV5Trainee:
    """YOLOv5n(-seg): the first ``frozen_layers`` layers (and a segmentation model's prototypes) frozen; the mask
    coefficients distilled from the frozen original."""

    def __init__(self, weights: Path, config: FinetuneConfig) -> None:
        self.base = load_checkpoint(weights)
        self.model = build_yolov5(weights)
        self.teacher = build_yolov5(weights) if self.base.get("nm") else None
        self.head = self.model.model[24]
        self.frozen_layers = config.frozen_layers
        segmentation = self.head.nm > 0
        self.params = []
        for index, layer in enumerate(self.model.model):
            for name, p in layer.named_parameters():
                train = index >= self.frozen_layers and not (segmentation and name.startswith("proto."))
                p.requires_grad_(train)
                if train:
                    self.params.append(p)
        self.license = "derived from AGPL-3.0 weights: do not redistribute"
        self.loss_fn = YoloV5Loss(self.head.anchors, STRIDES, self.head.nc, self.head.nm,
                                  LossWeights(distill=config.distill), imgsz=max(config.canvas))

    def train_mode(self) -> None:
        """Frozen layers keep their BatchNorm statistics (eval), the rest trains."""
        self.model.train()
        for index, layer in enumerate(self.model.model):
            if index < self.frozen_layers:
                layer.eval()
        if self.head.proto is not None:
            self.head.proto.eval()

    def loss(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        targets = targets[targets[:, 1] >= 0]  # this loss has no ignore regions: they train as background
        frozen_backbone = self.frozen_layers >= BACKBONE_LAYERS  # then student and teacher share its features
        with torch.no_grad():
            shared = self.model.backbone(images) if frozen_backbone else None  # computed once, no graph
            ref = None
            if self.teacher is not None:
                features = self.teacher.neck(*(shared if shared is not None else self.teacher.backbone(images)))
                ref = self.teacher.model[24].raw(features)  # the original head, not the training one
        features = shared if shared is not None else self.model.backbone(images)
        return self.loss_fn(self.head.raw(self.model.neck(*features)), targets, ref)

    def checkpoint(self, state: dict, weights: Path) -> dict:
        return {k: v for k, v in self.base.items() if k != "state_dict"} | {
            "state_dict": state, "finetuned_from": f"{Path(weights).name} sha256 {file_sha256(weights)}"}


class YoloXTrainee:
    """YOLOX-Nano from its ONNX weights: the first ``frozen_layers`` backbone stages (stem, dark2, ...) frozen.
    Images go in as YOLOX wants them: BGR, 0-255."""

    def __init__(self, weights: Path, config: FinetuneConfig) -> None:
        self.model = load_onnx_weights(weights)
        frozen = set(YOLOX_STAGES[:config.frozen_layers])
        self.params = []
        for name, p in self.model.named_parameters():
            train = not (name.startswith("backbone.") and name.split(".")[1] in frozen)
            p.requires_grad_(train)
            if train:
                self.params.append(p)
        self.license = YOLOX_LICENSE
        self.loss_fn = YoloXLoss(YOLOX_STRIDES, self.model.head.nc)

    def train_mode(self) -> None:
        self.model.train()  # no BatchNorm left (folded into the convolutions)

    def loss(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return self.loss_fn(self.model.raw(images.flip(1) * 255.0), targets)

    def checkpoint(self, state: dict, weights: Path) -> dict:
        return {"state_dict": state, "arch": "yolox-nano", "nc": self.model.head.nc,
                "names": base_class_names(weights),
                "finetuned_from": f"{Path(weights).name} sha256 {file_sha256(weights)}",
                "license": YOLOX_LICENSE}


def base_class_names(weights: Path) -> list[str]:
    """Class names of a base model, the label space its fine-tune keeps (YOLOX-Nano ONNX: COCO-80)."""
    return list(COCO80) if Path(weights).suffix == ".onnx" else class_names(weights)


def trainee_for(weights: Path, config: FinetuneConfig) -> YoloV5Trainee | YoloXTrainee:
    """The training wrapper for a base model: ``.pt`` YOLOv5 checkpoints or a YOLOX-Nano ``.onnx`` export."""
    return YoloXTrainee(weights, config) if Path(weights).suffix == ".onnx" else YoloV5Trainee(weights, config)


def _schedule(step: int, total: int, warmup: int, config: FinetuneConfig) -> tuple[float, float]:
    """Learning rate and momentum for ``step`` (0-based)."""
    if step < warmup:
        f = step / max(1, warmup)
        return config.lr * f, 0.8 + (config.momentum - 0.8) * f
    progress = (step - warmup) / max(1, total - warmup)
    floor = config.min_lr_ratio
    return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))), config.momentum


def finetune(weights: Path, samples: Sequence[Sample], config: FinetuneConfig, out: Path, *,
             provenance: dict | None = None, progress: bool = True) -> Path:
    """Train from ``weights`` on ``samples``; write ``out`` (tensors-only checkpoint like the base),
    ``out.with_suffix('.csv')`` (per-epoch losses) and ``.json`` (config, provenance, timing)."""
    if not samples:
        raise ConfigError("no training samples")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    weights_of = draw_weights(samples, config.balance, config.pseudo_share)
    draws = epoch_draws(samples, config.pseudo_share)
    # mosaic partners follow the draw weights only with pseudo-labelled frames (earlier recipes train as before)
    partner_weights = weights_of if any(s.pseudo for s in samples) else None
    pool = ObjectPool(samples) if config.augment.paste > 0 else None
    trainee = trainee_for(weights, config)
    params = trainee.params
    optimizer = torch.optim.SGD(_param_groups(params, config.weight_decay), lr=config.lr,
                                momentum=config.momentum, nesterov=True)
    ema = WeightAverage(trainee.model, config.ema_decay, config.ema_ramp)
    steps_per_epoch = math.ceil(draws / config.batch)
    total = steps_per_epoch * config.epochs
    warmup = round(config.warmup_epochs * steps_per_epoch)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path, meta_path = out.with_suffix(".csv"), out.with_suffix(".json")
    log = CsvLog(log_path)
    start = time.perf_counter()
    bar = tqdm(total=total, desc="train detector", unit="step", disable=not progress, dynamic_ncols=True)
    step = 0
    for epoch in range(1, config.epochs + 1):
        trainee.train_mode()
        order = rng.permutation(len(samples)) if weights_of is None else \
            rng.choice(len(samples), size=draws, p=weights_of / weights_of.sum())
        sums: dict[str, float] = {}
        for first in range(0, len(order), config.batch):
            items = [draw(samples, int(i), config.canvas, rng, config.augment, pool, partner_weights)
                     for i in order[first:first + config.batch]]
            images, targets = collate(items)
            lr, momentum = _schedule(step, total, warmup, config)
            for group in optimizer.param_groups:
                group["lr"], group["momentum"] = lr, momentum
            loss, parts = trainee.loss(images, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            optimizer.step()
            ema.update(trainee.model)
            step += 1
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.update(1)
            bar.set_postfix(epoch=epoch, box=f"{parts['box']:.4f}", obj=f"{parts['obj']:.4f}",
                            cls=f"{parts['cls']:.4f}")
        row = {"epoch": epoch, "lr": round(lr, 6), "seconds": round(time.perf_counter() - start, 1)}
        row |= {k: round(v / steps_per_epoch, 6) for k, v in sums.items()}
        log.append(row)
    bar.close()
    state = {k: v.detach().clone() for k, v in ema.model.state_dict().items()}
    checkpoint = trainee.checkpoint(state, weights)
    checkpoint["imgsz"] = list(config.canvas)  # the letterbox size it was trained at: the export's default
    tmp = out.with_name(out.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(out)
    meta = {"config": asdict(config), "base_weights": portable_path(weights), "base_sha256": file_sha256(weights),
            "samples": len(samples), "pair_ids": [s.pair_id for s in samples], "steps": total,
            "seconds": round(time.perf_counter() - start, 1), "torch": torch.__version__,
            "machine": platform.platform(), "license": trainee.license}
    meta |= provenance or {}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out
