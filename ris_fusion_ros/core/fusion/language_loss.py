"""Language-driven fusion loss in a CLIP-style embedding space (after LDFusion, Wang et al.).

No fused ground truth exists, so LDFusion states the goal in words and measures, in a frozen
CLIP space, whether the fused image moves from each source toward that sentence:

* three normalised text embeddings: ``t_V`` "a visible gray image", ``t_I`` "an infrared image",
  ``t_P`` "a clear image with detailed background and salient objects";
* image embeddings ``e_V, e_I, e_F`` of the visible Y, infrared and fused Y planes (gray repeated to
  three channels, bilinearly resized to the encoder's input size, encoder mean/std);
* similarity ``L_sim = ½(1 − cos(e_F, e_V)) + ½(1 − cos(e_F, e_I))`` keeps F near both sources;
* directional ``L_dir = ½(1 − cos(n(e_F − e_V), n(t_P − t_V))) + ½(1 − cos(n(e_F − e_I), n(t_P − t_I)))``;
* patch-wise directional: the same with the embedding of K joint random crops of F (side 0.5-0.8
  of the image) against the whole-image e_V, e_I; a crop counts only if the 256-bin entropy of
  both its visible and its infrared crop exceeds 6 bits (LDFusion's filter against CLIP's "text
  artefacts" on flat patches); masked losses averaged over all K crops;
* feature term ``L_feat = Σ_l MSE(φ_l(F), max(φ_l(V), φ_l(I)))`` on a frozen feature extractor
  (VGG-19 conv2_1/conv3_1/conv4_2 in LDFusion, fed [0, 1] gray×3 without normalisation);
* ``L = 6 L_sim + 2 L_dir + 10 L_patch + 10 L_feat`` (LDFusion's released-code weights).

The encoder is pluggable (:class:`ClipLikeEncoder`); no CLIP weights exist on the machines this
was written on, so it is tested with :class:`TinyClipLike`, a randomly initialised model with
CLIP's interface and shapes. It has NOT been used to train the shipped RisFuseNet. The random
affine jitter LDFusion applies to its crops is left out.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@runtime_checkable
class ClipLikeEncoder(Protocol):
    """What the loss needs from a CLIP-style model (frozen; gradients flow through its image side).

    ``encode_image`` takes (B, 3, image_size, image_size) images already normalised with
    ``mean``/``std`` and returns (B, D); ``encode_text`` returns (N, D) for N sentences.
    """

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def encode_image(self, images: torch.Tensor) -> torch.Tensor: ...

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor: ...


#: Maps (B, 3, H, W) images in [0, 1] to a list of feature maps (e.g. VGG-19 stages).
FeatureExtractor = Callable[[torch.Tensor], Sequence[torch.Tensor]]


@dataclass(frozen=True)
class LanguageLossConfig:
    """Sentences, weights and patch settings (defaults: LDFusion's released code, 2025)."""

    text_visible: str = "a visible gray image"
    text_infrared: str = "an infrared image"
    text_goal: str = "a clear image with detailed background and salient objects"
    weight_similarity: float = 6.0
    weight_direction: float = 2.0
    weight_patch: float = 10.0
    weight_feature: float = 10.0
    patches: int = 32
    patch_min: float = 0.5
    patch_max: float = 0.8
    entropy_threshold: float = 6.0


def _normalised(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def histogram_entropy(images: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in bits of each image's 256-bin histogram (values in [0, 1]); (B,)."""
    levels = (images.detach().clamp(0, 1) * 255.0).round().long().flatten(1)
    counts = torch.zeros(levels.shape[0], 256, device=images.device).scatter_add_(
        1, levels, torch.ones_like(levels, dtype=torch.float32))
    p = counts / counts.sum(dim=1, keepdim=True)
    return -(p * torch.log2(p.clamp_min(1e-12))).sum(dim=1)


class LanguageDrivenLoss(nn.Module):
    """LDFusion-style CLIP-space loss; ``forward(vis_y, ir, fused)`` on (B, 1, H, W) in [0, 1]."""

    def __init__(self, encoder: ClipLikeEncoder, config: LanguageLossConfig | None = None,
                 features: FeatureExtractor | None = None) -> None:
        super().__init__()
        if not isinstance(encoder, ClipLikeEncoder):
            raise ConfigError(f"{type(encoder).__name__} is not a CLIP-style encoder: it needs image_size, mean, "
                              "std, encode_image(images) and encode_text(texts)")
        self.config = config or LanguageLossConfig()
        if self.config.weight_feature > 0 and features is None:
            raise ConfigError("the feature term needs a feature extractor (e.g. VGG-19 stages); pass features=... "
                              "or set weight_feature=0")
        self.encoder = encoder
        self.features = features
        if isinstance(encoder, nn.Module):
            encoder.requires_grad_(False)
        with torch.no_grad():
            text = encoder.encode_text([self.config.text_visible, self.config.text_infrared, self.config.text_goal])
        if text.ndim != 2 or text.shape[0] != 3:
            raise ConfigError(f"encode_text returned shape {tuple(text.shape)} for 3 sentences; expected (3, D)")
        t_v, t_i, t_p = _normalised(text.float())
        self.register_buffer("text_direction_vis", _normalised(t_p - t_v))
        self.register_buffer("text_direction_ir", _normalised(t_p - t_i))
        self.register_buffer("mean", torch.tensor(encoder.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(encoder.std).view(1, 3, 1, 1))

    def embed(self, gray: torch.Tensor) -> torch.Tensor:
        """Normalised embeddings of (B, 1, H, W) gray images in [0, 1]."""
        size = self.encoder.image_size
        x = F.interpolate(gray.expand(-1, 3, -1, -1), size=(size, size), mode="bilinear", align_corners=False)
        out = self.encoder.encode_image((x - self.mean) / self.std)
        if out.ndim != 2 or out.shape[0] != gray.shape[0]:
            raise ConfigError(f"encode_image returned shape {tuple(out.shape)} for a batch of {gray.shape[0]}")
        return _normalised(out.float())

    def _direction(self, e_f: torch.Tensor, e_v: torch.Tensor, e_i: torch.Tensor) -> torch.Tensor:
        """Per-sample directional loss (B,)."""
        cos_v = (_normalised(e_f - e_v) * self.text_direction_vis).sum(-1)
        cos_i = (_normalised(e_f - e_i) * self.text_direction_ir).sum(-1)
        return 0.5 * (1.0 - cos_v) + 0.5 * (1.0 - cos_i)

    def _crops(self, vis: torch.Tensor, ir: torch.Tensor, fused: torch.Tensor,
               generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """K joint random crops per sample: F crops resized to the encoder size (B·K, 1, S, S), the
        entropy filter (B·K,) and the sample each crop came from (B·K,)."""
        cfg = self.config
        b, _, h, w = fused.shape
        side_min = min(h, w)
        crops_f, masks, owners = [], [], []
        size = self.encoder.image_size
        for _ in range(cfg.patches):
            fraction = cfg.patch_min + (cfg.patch_max - cfg.patch_min) * torch.rand((), generator=generator).item()
            side = max(8, round(fraction * side_min))
            top = int(torch.randint(0, h - side + 1, (), generator=generator))
            left = int(torch.randint(0, w - side + 1, (), generator=generator))
            window = (slice(None), slice(None), slice(top, top + side), slice(left, left + side))
            keep = ((histogram_entropy(vis[window]) > cfg.entropy_threshold)
                    & (histogram_entropy(ir[window]) > cfg.entropy_threshold))
            crops_f.append(F.interpolate(fused[window], size=(size, size), mode="bilinear", align_corners=False))
            masks.append(keep.float())
            owners.append(torch.arange(b))
        return torch.cat(crops_f), torch.cat(masks), torch.cat(owners)

    def forward(self, vis_y: torch.Tensor, ir: torch.Tensor, fused: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its terms; ``generator`` draws the patch crops (seed it for repeatable values)."""
        for name, x in (("vis_y", vis_y), ("ir", ir), ("fused", fused)):
            if x.ndim != 4 or x.shape[1] != 1:
                raise ConfigError(f"{name} must be (B, 1, H, W), got {tuple(x.shape)}")
        if not (vis_y.shape == ir.shape == fused.shape):
            raise ConfigError(f"shapes differ: vis {tuple(vis_y.shape)}, ir {tuple(ir.shape)}, "
                              f"fused {tuple(fused.shape)}")
        cfg = self.config
        with torch.no_grad():
            e_v, e_i = self.embed(vis_y), self.embed(ir)
        e_f = self.embed(fused)
        similarity = (0.5 * (1 - (e_f * e_v).sum(-1)) + 0.5 * (1 - (e_f * e_i).sum(-1))).mean()
        direction = self._direction(e_f, e_v, e_i).mean()
        terms = {"similarity": similarity, "direction": direction}
        total = cfg.weight_similarity * similarity + cfg.weight_direction * direction
        if cfg.weight_patch > 0 and cfg.patches > 0:
            crops, keep, owners = self._crops(vis_y, ir, fused, generator)
            e_crop = self.embed(crops)
            patch = (self._direction(e_crop, e_v[owners], e_i[owners]) * keep).mean()
            terms["patch"] = patch
            terms["patch_kept_fraction"] = keep.mean()
            total = total + cfg.weight_patch * patch
        if cfg.weight_feature > 0 and self.features is not None:
            feats_f = self.features(fused.expand(-1, 3, -1, -1))
            with torch.no_grad():
                feats_v = self.features(vis_y.expand(-1, 3, -1, -1))
                feats_i = self.features(ir.expand(-1, 3, -1, -1))
            feature = sum(F.mse_loss(f, torch.maximum(v, i)) for f, v, i in zip(feats_f, feats_v, feats_i, strict=True))
            terms["feature"] = feature
            total = total + cfg.weight_feature * feature
        return total, {k: float(v.detach()) for k, v in terms.items()}


class TinyClipLike(nn.Module):
    """A randomly initialised stand-in with CLIP ViT-B/32's interface and shapes (224 px in,
    512-d out, CLIP mean/std): a small CNN image tower and a hashed bag-of-words text tower.
    For testing the loss's mechanics only — its embeddings mean nothing."""

    image_size = 224
    mean = CLIP_MEAN
    std = CLIP_STD

    def __init__(self, dim: int = 512, width: int = 16, vocabulary: int = 4096, seed: int = 0) -> None:
        super().__init__()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.stages = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, width, 7, stride=4, padding=3), nn.GELU()),
            nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.GELU()),
            nn.Sequential(nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.GELU()),
        ])
        self.image_projection = nn.Linear(4 * width, dim)
        self.vocabulary = vocabulary
        self.token_embedding = nn.EmbeddingBag(vocabulary, dim, mode="mean")
        self.text_projection = nn.Linear(dim, dim)
        torch.random.set_rng_state(generator_state)

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of the image tower's stages (plays VGG's role in the feature term)."""
        out = []
        x = images
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_projection(self.features(images)[-1].mean(dim=(2, 3)))

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        tokens, offsets = [], []
        for text in texts:
            offsets.append(len(tokens))
            words = text.lower().split() or [""]
            tokens += [zlib.crc32(word.encode()) % self.vocabulary for word in words]
        return self.text_projection(self.token_embedding(torch.tensor(tokens), torch.tensor(offsets)))

