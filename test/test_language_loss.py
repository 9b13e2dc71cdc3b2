"""The CLIP-space language-driven loss, with a tiny random CLIP-shaped encoder (no CLIP weights here)."""

from __future__ import annotations

import pytest
import torch

from ris_fusion_ros.core.errors import ConfigError
from ris_fusion_ros.core.fusion.language_loss import (
    LanguageDrivenLoss,
    LanguageLossConfig,
    TinyClipLike,
    histogram_entropy,
)
from ris_fusion_ros.core.fusion.ours.model import TEXT_DIM, RisFuseNet

torch.set_num_threads(1)


def _pair(size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 6, size), torch.linspace(0, 6, size), indexing="ij")
    vis = (0.5 + 0.3 * torch.sin(3 * xx) * torch.cos(2 * yy) + 0.1 * torch.rand(size, size, generator=g)).clamp(0, 1)
    ir = (0.2 + 0.6 * ((xx - 3) ** 2 + (yy - 3) ** 2 < 2).float() + 0.15 * torch.rand(size, size, generator=g))
    return vis[None, None], ir.clamp(0, 1)[None, None]


def _loss(**config) -> LanguageDrivenLoss:
    encoder = TinyClipLike(seed=0)
    return LanguageDrivenLoss(encoder, LanguageLossConfig(patches=4, **config), features=encoder.features)


def test_tiny_encoder_has_clip_shapes():
    encoder = TinyClipLike()
    assert encoder.encode_image(torch.zeros(2, 3, 224, 224)).shape == (2, 512)
    assert encoder.encode_text(["an infrared image", "a visible gray image"]).shape == (2, 512)


def test_all_four_terms_are_computed_and_finite():
    vis, ir = _pair()
    total, terms = _loss()(vis, ir, 0.5 * (vis + ir), generator=torch.Generator().manual_seed(0))
    assert set(terms) >= {"similarity", "direction", "patch", "feature"}
    assert torch.isfinite(total) and all(v == v for v in terms.values())


def test_gradients_reach_the_fusion_network():
    torch.manual_seed(0)
    net = RisFuseNet(width=8)
    vis, ir = _pair()
    fused = net(ir, vis, torch.zeros_like(ir), torch.zeros(1, TEXT_DIM))
    total, _ = _loss()(vis, ir, fused, generator=torch.Generator().manual_seed(0))
    total.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0
    assert all(p.grad is None for p in _loss().encoder.parameters())  # the encoder stays frozen


def test_loss_falls_over_a_short_optimisation():
    torch.manual_seed(0)
    net = RisFuseNet(width=8)
    vis, ir = _pair()
    loss = _loss()
    optimiser = torch.optim.Adam(net.parameters(), lr=5e-3)

    def value() -> float:
        with torch.no_grad():
            fused = net(ir, vis, torch.zeros_like(ir), torch.zeros(1, TEXT_DIM))
            return float(loss(vis, ir, fused, generator=torch.Generator().manual_seed(123))[0])

    before = value()
    for step in range(25):
        fused = net(ir, vis, torch.zeros_like(ir), torch.zeros(1, TEXT_DIM))
        total, _ = loss(vis, ir, fused, generator=torch.Generator().manual_seed(step))
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    assert value() < 0.97 * before  # measured: 12.09 -> 11.37 after 25 steps


def test_entropy_filter_drops_flat_patches():
    flat = torch.full((1, 1, 64, 64), 0.5)
    assert float(histogram_entropy(flat)) == 0.0
    noise = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    assert float(histogram_entropy(noise)) > 7.5
    _, terms = _loss()(flat, flat, flat, generator=torch.Generator().manual_seed(0))
    assert terms["patch_kept_fraction"] == 0.0 and terms["patch"] == 0.0


def test_bad_encoder_and_missing_feature_extractor_are_errors():
    with pytest.raises(ConfigError, match="CLIP-style"):
        LanguageDrivenLoss(object())
    with pytest.raises(ConfigError, match="feature extractor"):
        LanguageDrivenLoss(TinyClipLike())
    loss = LanguageDrivenLoss(TinyClipLike(), LanguageLossConfig(weight_feature=0, patches=2))
    with pytest.raises(ConfigError, match="shapes differ"):
        loss(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 16, 16))
