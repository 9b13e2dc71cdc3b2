"""Peer fusion networks: strict loading, output conventions, ONNX Runtime = PyTorch, and metrics.

Needs ``<shared>/weights/peers`` and the MSRS dev split; skips with the reason otherwise. Real
MSRS pairs are cropped where the check allows, to keep the file fast on a 2-core CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from ris_fusion_ros.core.color import split_luma, to_gray

torch = pytest.importorskip("torch", reason="PyTorch (CPU build) is installed by tools/setup_env.sh")
pytest.importorskip("onnxruntime", reason="onnxruntime is installed by tools/setup_env.sh")

from ris_fusion_ros.backends import create_backend  # noqa: E402
from ris_fusion_ros.core.fusion.peers import zoo  # noqa: E402

PEERS = zoo.peer_names()

#: Parameter elements (weights, biases, BN affine; no buffers) from each peer's NOTES.md.
NOTES_PARAMS = {"seafusion": 166_883, "tardal": 296_577, "didfuse": 260_935, "ifcnn": 83_587,
                "densefuse": 74_193, "u2fusion": 659_217}

#: Mean metrics over the first 4 MSRS dev pairs at source resolution, measured with the PyTorch path.
MEASURED = {
    "seafusion": {"EN": 5.9983, "SD": 34.5604, "SF": 7.1316, "AG": 2.1714, "MI_nats": 2.4798, "SCD": 1.6459,
                  "VIF": 1.0043, "Qabf": 0.6250, "SSIM": 1.0160, "CC": 0.6645},
    "ifcnn": {"EN": 5.7628, "SD": 28.8585, "SF": 7.4257, "AG": 2.1332, "MI_nats": 1.9336, "SCD": 1.3746,
              "VIF": 0.8386, "Qabf": 0.5564, "SSIM": 1.0233, "CC": 0.6773},
    "densefuse": {"EN": 5.3322, "SD": 19.5348, "SF": 4.0058, "AG": 1.2625, "MI_nats": 1.6477, "SCD": 1.0710,
                  "VIF": 0.6925, "Qabf": 0.3474, "SSIM": 0.9653, "CC": 0.7115},
}


@pytest.fixture(scope="module")
def weights(shared_root):
    root = shared_root / "weights" / "peers"
    if not root.is_dir():
        pytest.skip(f"peer weights not available: {root} missing")
    return root


@pytest.fixture(scope="module")
def msrs(shared_root):
    from ris_fusion_ros.core.data import open_dataset
    from ris_fusion_ros.core.errors import DataError

    try:
        return open_dataset("msrs", split="dev", shared=shared_root)
    except (DataError, Exception) as exc:  # ConfigError when the data folder is missing
        pytest.skip(f"MSRS dev split not available: {exc}")


@pytest.fixture(scope="module")
def crop(msrs):
    """A real pair cropped to an odd size (dynamic-shape check too): IR and visible Y in [0, 1]."""
    pair = msrs[0]
    return _planes(pair.ir[200:301, 300:431], pair.vis[200:301, 300:431])


def _planes(ir, vis):
    """IR and visible Y as float32 [0, 1] planes, exactly as FusionMethod.fuse prepares them."""
    return ir.astype(np.float32) / 255.0, split_luma(vis)[0].astype(np.float32) / 255.0


@pytest.fixture(scope="module", autouse=True)
def onnx_dir(tmp_path_factory):
    """A private model cache: exports made here never touch the user's cache."""
    from ris_fusion_ros.core.paths import MODEL_CACHE_ENV, model_cache_dir

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_CACHE_ENV, str(tmp_path_factory.mktemp("model_cache")))
        yield model_cache_dir() / "onnx"


@pytest.fixture(scope="module")
def nets(weights):
    return {}


def _net(nets, name):
    if name not in nets:
        nets[name] = zoo.build_torch(name)
    return nets[name]


def _torch_run(net, spec, inputs):
    with torch.inference_mode():
        return [net(*[torch.from_numpy(inputs[n]) for n in spec.input_names]).numpy()]


@pytest.mark.parametrize("name", PEERS)
def test_checkpoint_loads_strictly_with_the_documented_size(weights, nets, name):
    net = _net(nets, name)  # load_state_dict(strict=True) inside
    assert not net.training
    assert sum(p.numel() for p in net.parameters()) == NOTES_PARAMS[name] == zoo.PEERS[name].parameters


def test_tardal_dt_runs_batchnorm_on_batch_statistics(weights, nets):
    net = _net(nets, "tardal")
    assert net.batch_stats  # tardal-dt stores use_eval: False
    x = torch.rand(1, 2, 24, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out = net(x)
        reference = net.train()(x)  # PyTorch's own train-mode BN ...
    net.eval()
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=0)
    # ... which must not have touched the stored running statistics
    assert all(int(m.num_batches_tracked) == 0 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.parametrize("name", PEERS)
def test_output_shape_and_range_on_a_real_pair(weights, nets, crop, name):
    spec = zoo.PEERS[name]
    ir, y = crop
    raw = _torch_run(_net(nets, name), spec, spec.make_inputs(ir, y))
    fused = spec.map_output(raw)
    assert fused.shape == ir.shape and np.isfinite(fused).all()
    low = -1.0 if name == "tardal" else 0.0  # TarDAL's tanh output is clipped by FusionMethod.fuse
    assert low - 1e-6 <= fused.min() and fused.max() <= 1.0 + 1e-6
    assert fused.std() > 0.05 and np.corrcoef(fused.ravel(), ir.ravel())[0, 1] > 0.3  # a fusion, not noise


@pytest.mark.parametrize("name", PEERS)
def test_onnxruntime_matches_pytorch(weights, nets, crop, onnx_dir, msrs, name):
    spec = zoo.PEERS[name]
    if name == "tardal":  # batch statistics over a full frame: where a naive float32 reduction drifts
        ir, y = _planes(msrs[0].ir, msrs[0].vis)
    else:
        ir, y = crop
    inputs = spec.make_inputs(ir, y)
    expected = _torch_run(_net(nets, name), spec, inputs)
    backend = create_backend(zoo.artifacts(name), "onnxruntime", threads=2)
    got = backend.run(inputs)
    scale = 255.0 if name == "densefuse" else 1.0  # DenseFuse works on 0-255
    assert got[0].shape == expected[0].shape
    assert np.abs(got[0] - expected[0]).max() / scale <= 1e-4
    assert np.abs(spec.map_output(got) - spec.map_output(expected)).max() <= 1e-4


def test_export_is_reused_while_fresh(weights, onnx_dir):
    first = zoo.export_onnx("densefuse", onnx_dir)
    stamp = first.stat().st_mtime_ns
    assert zoo.export_onnx("densefuse", onnx_dir) == first and first.stat().st_mtime_ns == stamp
    assert zoo.export_onnx("densefuse", onnx_dir, force=True).stat().st_mtime_ns >= stamp


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_metrics_on_four_msrs_pairs_match_the_torch_measurement(weights, msrs, name):
    from ris_fusion_ros.core.evaluation.metrics import evaluate_fusion

    method = zoo.create_peer_method(name, "onnxruntime", threads=2)
    scores = []
    for index in range(4):
        pair = msrs[index]
        fused = method.fuse(pair.ir, pair.vis)
        assert fused.shape == pair.vis.shape and fused.dtype == np.uint8
        scores.append(evaluate_fusion(pair.ir.astype(np.float64), to_gray(pair.vis), to_gray(fused)))
    for metric, expected in MEASURED[name].items():
        got = float(np.mean([s[metric] for s in scores]))
        assert got == pytest.approx(expected, rel=5e-3, abs=1e-3), metric


def test_registration_is_cheap_and_missing_weights_fail_on_use(tmp_path):
    code = (
        "import sys\n"
        "from ris_fusion_ros.core.fusion import available_methods, create_method\n"
        "from ris_fusion_ros.core.fusion.peers import PeerWeightsMissing, register_peers\n"
        "register_peers()\n"
        "assert {'seafusion','tardal','didfuse','ifcnn','densefuse','u2fusion'} <= set(available_methods())\n"
        "method = create_method('didfuse')\n"
        "assert 'torch' not in sys.modules, 'listing peers must not import torch'\n"
        "import numpy as np\n"
        "try:\n"
        "    method.fuse(np.zeros((48, 48), np.uint8), np.zeros((48, 48, 3), np.uint8))\n"
        "except PeerWeightsMissing as exc:\n"
        "    print(exc)\n"
    )
    (tmp_path / "weights").mkdir()
    env = {**os.environ, "RIS_FUSION_SHARED": str(tmp_path), "RIS_FUSION_MODEL_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Encoder_weight_IJCAI.pkl" in result.stdout and "Decoder_weight_IJCAI.pkl" in result.stdout
