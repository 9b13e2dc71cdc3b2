"""RisFuseNet: architecture promises (control is monotonic and local, text off = plain),
losses, a training smoke run, ONNX export parity, and the shipped weights."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (CPU build) is installed by tools/setup_env.sh")

from ris_fusion_ros.core.fusion.ours import RisFuseNetFusion, default_model_dir  # noqa: E402
from ris_fusion_ros.core.fusion.ours.losses import intensity_target, sobel_magnitude, ssim  # noqa: E402
from ris_fusion_ros.core.fusion.ours.model import TEXT_DIM, RisFuseNet  # noqa: E402


def _inputs(h=37, w=53, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 1, h, w, generator=g), torch.rand(1, 1, h, w, generator=g)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    net = RisFuseNet().eval()
    with torch.no_grad():  # make the control slope and text path non-trivial
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def test_any_size_in_gives_the_same_size_out_in_range(model):
    for h, w in ((37, 53), (16, 16), (121, 9)):
        ir, vis = _inputs(h, w)
        with torch.no_grad():
            out = model(ir, vis, torch.zeros_like(ir), torch.zeros(1, TEXT_DIM))
        assert out.shape == (1, 1, h, w) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_control_moves_every_pixel_monotonically_in_the_infrared_direction(model):
    """The infrared weight rises with the control at every pixel: raising the control moves each
    output pixel in the direction of (IR - VIS), never the other way."""
    ir, vis = _inputs()
    no_text = torch.zeros(1, TEXT_DIM)
    with torch.no_grad():
        outs = [model(ir, vis, torch.full_like(ir, c), no_text) for c in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    direction = torch.sign(ir - vis)
    for lower, higher in itertools.pairwise(outs):
        assert bool(((higher - lower) * direction >= -1e-6).all())
    moved = (outs[-1] - outs[0]) * direction
    assert float(moved.mean()) > 0.01


def test_region_control_changes_nothing_outside_the_mask(model):
    ir, vis = _inputs(64, 64)
    control = torch.zeros_like(ir)
    control[..., 10:30, 20:50] = 0.8
    no_text = torch.zeros(1, TEXT_DIM)
    with torch.no_grad():
        plain = model(ir, vis, torch.zeros_like(ir), no_text)
        edited = model(ir, vis, control, no_text)
    outside = control == 0
    assert torch.equal(plain[outside], edited[outside])
    assert float((plain - edited).abs()[~outside].mean()) > 1e-3


def test_text_embedding_changes_the_output_and_zero_text_adds_no_gate(model):
    ir, vis = _inputs()
    control = torch.zeros_like(ir)
    with torch.no_grad():
        plain = model(ir, vis, control, torch.zeros(1, TEXT_DIM))
        texted = model(ir, vis, control, torch.randn(1, TEXT_DIM))
        assert float(model.text_query(torch.zeros(1, TEXT_DIM)).abs().max()) == 0.0  # no bias: no gate
    assert float((plain - texted).abs().mean()) > 1e-4


def test_loss_targets():
    ir, vis = _inputs()
    assert torch.equal(intensity_target(ir, vis, torch.zeros_like(ir)), torch.maximum(ir, vis))
    assert torch.allclose(intensity_target(ir, vis, torch.ones_like(ir)), ir)
    assert torch.allclose(intensity_target(ir, vis, -torch.ones_like(ir)), vis)
    assert float(ssim(ir, ir)) == pytest.approx(1.0, abs=1e-6)
    assert float(ssim(ir, vis)) < 0.2
    flat = torch.full((1, 1, 8, 8), 0.3)
    assert float(sobel_magnitude(flat).abs().max()) == 0.0
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0
    assert float(sobel_magnitude(step)[0, 0, 3, 4]) == pytest.approx(4.0)  # |Sobel| of a unit vertical step


def test_training_smoke_run_writes_weights_log_and_a_matching_onnx(tmp_path, shared_root):
    pytest.importorskip("onnxruntime")
    from ris_fusion_ros.backends import ModelArtifacts, create_backend
    from ris_fusion_ros.core.fusion.ours.export import export_onnx, load_model
    from ris_fusion_ros.core.fusion.ours.train import TrainConfig, train

    config = TrainConfig(steps=3, batch=2, crop=64, validate_every=2)
    weights = train(config, tmp_path, shared=shared_root, progress=False)
    log = (tmp_path / "training_log.csv").read_text().splitlines()
    assert log[0].startswith("step,train_loss,val_loss") and len(log) == 3  # steps 2 and 3
    meta = json.loads((tmp_path / "training.json").read_text())
    assert meta["train_pairs"] == 171 + 32 + 11 and meta["validation_pairs"] == 12
    onnx_path = export_onnx(weights, tmp_path / "m.onnx")
    backend = create_backend(ModelArtifacts("m", ("ir", "vis", "control", "text"), ("fused",), onnx_path=onnx_path))
    ir, vis = _inputs(45, 70)
    feed = {"ir": ir.numpy(), "vis": vis.numpy(), "control": np.zeros((1, 1, 45, 70), np.float32),
            "text": np.zeros((1, TEXT_DIM), np.float32)}
    with torch.no_grad():
        reference = load_model(weights)(ir, vis, torch.zeros_like(ir), torch.zeros(1, TEXT_DIM)).numpy()
    np.testing.assert_allclose(backend.run(feed)[0], reference, atol=1e-5)


SHIPPED = default_model_dir()


@pytest.mark.skipif(not (SHIPPED / "risfusenet.onnx").is_file(), reason="no shipped RisFuseNet weights yet")
def test_shipped_onnx_matches_shipped_weights_and_records_its_command(shared_root):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.fusion.ours.export import load_model

    meta = json.loads((SHIPPED / "risfusenet.json").read_text())
    assert meta["command"].startswith("ris-fusion ") and "train fusion" in meta["command"]
    pair = open_dataset("msrs", shared=shared_root)[0]
    onnx_method = RisFuseNetFusion("onnxruntime", threads=2)
    torch_method = RisFuseNetFusion("torch", threads=2)
    a, b = onnx_method.fuse(pair.ir, pair.vis), torch_method.fuse(pair.ir, pair.vis)
    assert np.abs(a.astype(int) - b).max() <= 1
    assert sum(p.numel() for p in load_model(SHIPPED / "risfusenet.pt").parameters()) <= 500_000


def test_text_prompt_crops_carry_the_prompt_and_its_inclination_as_target():
    from ris_fusion_ros.core.fusion.ours.train import LumaPair, TrainConfig, sample_batch

    rng = np.random.default_rng(0)
    pairs = [LumaPair("p", rng.integers(0, 256, (80, 90), np.uint8), rng.integers(0, 256, (80, 90), np.uint8))]
    prompts = {label: rng.normal(size=(3, TEXT_DIM)).astype(np.float32) for label in (-1, 0, 1)}
    config = TrainConfig(batch=24, crop=32, text_probability=1.0, text_strength=0.7)
    batch = sample_batch(pairs, np.random.default_rng(1), config, prompts)
    assert float(batch["control"].abs().max()) == 0.0           # prompts replace the control input
    targets = batch["target_control"].flatten(1)
    assert torch.all(targets == targets[:, :1])                   # one inclination over the whole crop
    labels = torch.round(targets[:, 0] / 0.7).long()
    assert set(labels.tolist()) == {-1, 0, 1}
    for text, label in zip(batch["text"].numpy(), labels.tolist(), strict=True):
        assert any(np.array_equal(text, row) for row in prompts[label])
    plain = sample_batch(pairs, np.random.default_rng(1), TrainConfig(batch=4, crop=32), prompts)
    assert float(plain["text"].abs().max()) == 0.0 and torch.equal(plain["control"], plain["target_control"])


def test_held_out_text_prompts_are_not_training_prompts():
    from ris_fusion_ros.core.fusion.ours.text_prompts import TRAIN_PROMPTS, VALIDATION_PROMPTS

    train_words = {p.lower() for phrases in TRAIN_PROMPTS.values() for p in phrases}
    held_out = [p.lower() for phrases in VALIDATION_PROMPTS.values() for p in phrases]
    assert held_out and not train_words.intersection(held_out)
