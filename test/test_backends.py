"""Backend conformance: every available runtime gives the reference output for the same model."""

from __future__ import annotations

import numpy as np
import pytest

from ris_fusion_ros.backends import BackendError, ModelArtifacts, create_backend
from ris_fusion_ros.backends.engine_cache import EngineKey, engine_path, read_engine, write_engine
from ris_fusion_ros.backends.tensorrt_backend import tensorrt_available

torch = pytest.importorskip("torch", reason="PyTorch (CPU build) is installed by tools/setup_env.sh")


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 1, 3, padding=1), torch.nn.Sigmoid())


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    pytest.importorskip("onnxruntime", reason="onnxruntime is installed by tools/setup_env.sh")
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    torch.onnx.export(_tiny_model(), (torch.rand(1, 2, 16, 16),), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    return ModelArtifacts("tiny", ["x"], ["y"], onnx_path=path, torch_factory=_tiny_model,
                          dynamic_shape_profile={"x": ((1, 2, 16, 16), (1, 2, 480, 640), (1, 2, 1080, 1920))})


def _reference(x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return _tiny_model()(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("kind", ["onnxruntime", "torch", "tensorrt"])
def test_backends_agree_with_the_reference_at_any_size(artifacts, kind):
    if kind == "tensorrt":
        ok, reason = tensorrt_available()
        if not ok:
            pytest.skip(f"TensorRT path not testable here: {reason}")
    backend = create_backend(artifacts, kind, threads=1, device="cuda" if kind == "tensorrt" else "cpu")
    with backend:
        assert list(backend.input_names) == ["x"] and list(backend.output_names) == ["y"]
        for h, w in ((16, 16), (37, 53)):  # dynamic height and width
            x = np.random.default_rng(h).random((1, 2, h, w), dtype=np.float32)
            (y,) = backend.run({"x": x})
            np.testing.assert_allclose(y, _reference(x), atol=1e-5)
        assert backend.info()["backend"] == kind


def test_bad_requests_raise_backend_errors(artifacts, tmp_path):
    backend = create_backend(artifacts, "onnxruntime")
    with pytest.raises(BackendError, match=r"missing \['x'\], unexpected \['z'\]"):
        backend.run({"z": np.zeros((1, 2, 4, 4), np.float32)})
    missing = ModelArtifacts("gone", ["x"], ["y"], onnx_path=tmp_path / "gone.onnx")
    with pytest.raises(BackendError, match="create it with `ris-fusion export`"):
        create_backend(missing, "onnxruntime")
    with pytest.raises(BackendError, match="CUDAExecutionProvider is not available"):
        create_backend(artifacts, "onnxruntime", device="cuda")
    with pytest.raises(BackendError, match="unknown backend 'openvino'"):
        create_backend(artifacts, "openvino")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="cannot load"):
        create_backend(ModelArtifacts("b", ["x"], ["y"], onnx_path=broken), "onnxruntime")
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="CUDA is not available"):
            create_backend(artifacts, "torch", device="cuda")


def test_engine_cache_key_covers_every_field_and_rejects_stale_engines(tmp_path):
    base = EngineKey("abc", "10.3.0", "NVIDIA H200 sm_90", "fp16", "x:1x2x16x16/1x2x480x640/1x2x1080x1920")
    variants = [EngineKey(**{**base.__dict__, field: "other"}) for field in base.__dict__]
    assert len({base.digest(), *(v.digest() for v in variants)}) == 1 + len(variants)
    path = engine_path(tmp_path, tmp_path / "model.onnx", base)
    assert read_engine(path, base) is None
    write_engine(path, b"engine-bytes", base)
    assert read_engine(path, base) == b"engine-bytes"
    assert read_engine(path, variants[1]) is None  # built for another TensorRT version: rebuild


def test_onnxruntime_threads_do_not_spin_between_runs(artifacts):
    """Fusion and detection alternate in one process; spinning idle threads would slow the other model."""
    backend = create_backend(artifacts, "onnxruntime", threads=2)
    options = backend._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
