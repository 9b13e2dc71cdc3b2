"""The peer networks as fusion methods: where their weights are, how they are fed and read.

Each :class:`PeerSpec` ties a network of :mod:`.models` to its checkpoint(s) under
``<shared>/weights/peers`` and to the peer's own conventions (input range and layout, output
mapping), as documented in each peer's ``NOTES.md``. Peers run through the project's
backends: ONNX Runtime by default (the network is exported once, with dynamic height and
width, into ``model_cache_dir()/onnx``), or PyTorch eager, or TensorRT from the same ONNX.

Nothing here imports torch at import time, so listing or registering peers stays cheap;
a peer whose weights are missing fails when it is first used, naming the missing file.

Conventions reproduced, and how they were checked: ``ris-fusion eval fusion`` on the 241 MSRS
dev pairs against ``docs/msrs-reference-metrics.md`` (independent re-implementations). SeAFusion,
TarDAL, IFCNN, DenseFuse and U2Fusion match every reference metric within 0.3% (Nabf, printed
there with three decimals, within its rounding).

* SeAFusion: visible Y and IR in [0, 1]; output tanh/2+0.5; the official global min-max
  stretch is applied to the recoloured RGB image (all channels at once), as its test script
  does. Stretching the luminance plane instead moved SD/SF/AG by +3% and Nabf by +36% against
  the reference row; the RGB stretch matches it (it is the identity whenever some channel
  already reaches 0 and 255, i.e. on most MSRS frames).
* TarDAL: tardal-dt, BatchNorm with batch statistics (the checkpoint's ``use_eval: False``),
  batch of one; cat(IR, VIS-Y) in [0, 1]; tanh output clipped to [0, 1].
* DIDFuse: shared encoder, the four feature pairs summed; sigmoid output, no stretch (as the
  official ``test.py``). Its fused *luminance* reproduces the reference row within 0.2% on all
  metrics. Scored through the project's colour path (visible chroma put back, gray of the RGB
  image) it reads EN +6.9%, MI -10%, AG +2.7%: its output is dark, so many pixels with the
  visible chroma fall outside the RGB gamut and are clipped, which brightens their gray. That
  is an evaluation convention (gray of the colour image vs. fused Y), not a loader difference;
  the other peers are bright enough for the two to agree within 0.3%.
* IFCNN-MAX: each source as 3-channel replicated gray in [0, 1]; 3-channel output clamped to
  [0, 1] and converted to gray with BT.601 weights.
* DenseFuse: gray model on **0-255** inputs, features averaged; output clamped to [0, 255].
* U2Fusion: cat(VIS-Y, IR) in [0, 1]; output tanh/2+0.5. (The official test script saves with
  ``scipy.misc.imsave``, which stretches float images to 0-255; the reference row is unstretched,
  and so is this.)
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ....backends import ModelArtifacts, create_backend
from ...color import LUMA_WEIGHTS
from ...errors import ConfigError
from ...paths import model_cache_dir, shared_root
from ..network import InputBuilder, NetworkFusion, OutputMapper
from ..postprocess import minmax_stretch_rgb
from ..registry import RuntimeOptions, register_method

OUTPUT_NAME = "fused"
_LUMA = LUMA_WEIGHTS.astype(np.float32)


class PeerWeightsMissing(ConfigError):
    """A peer's checkpoint file is not where the weights folder should have it."""


@dataclass(frozen=True)
class PeerSpec:
    """One peer network: checkpoints, builder and I/O conventions."""

    name: str                          # registry name (lowercase)
    title: str                         # paper name, for reports
    description: str
    citation: str
    checkpoints: tuple[str, ...]       # relative to <shared>/weights/peers
    input_names: tuple[str, ...]
    input_channels: tuple[int, ...]    # channels of each input, for export and TensorRT profiles
    build: Callable[[Sequence[Path]], Any]   # loaded nn.Module in eval mode
    make_inputs: InputBuilder
    map_output: OutputMapper
    parameters: int = 0                # parameter elements in the checkpoint (NOTES.md), for reports
    rgb_stretch: bool = False          # global min-max stretch of the fused RGB image (SeAFusion)


# --------------------------------------------------------------------------------------------
# Loading (torch imported lazily)
# --------------------------------------------------------------------------------------------

def _torch_load(path: Path) -> dict[str, Any]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _strict(module: Any, state: dict[str, Any]) -> Any:
    module.load_state_dict(state, strict=True)
    return module.eval()


def _build_seafusion(paths: Sequence[Path]) -> Any:
    from . import models

    return _strict(models.SeAFusion(), _torch_load(paths[0]))


def _build_tardal(paths: Sequence[Path]) -> Any:
    from . import models

    state = dict(_torch_load(paths[0]))
    use_eval = bool(state.pop("use_eval", True))  # tardal-dt stores False: BN on batch statistics
    return _strict(models.TarDAL(batch_stats=not use_eval), state)


def _build_didfuse(paths: Sequence[Path]) -> Any:
    from . import models

    net = models.DIDFuse(rule="sum")
    net.encoder.load_state_dict(_torch_load(paths[0])["weight"], strict=True)
    net.decoder.load_state_dict(_torch_load(paths[1])["weight"], strict=True)
    return net.eval()


def _build_ifcnn(paths: Sequence[Path]) -> Any:
    from . import models

    return _strict(models.IFCNN(), _torch_load(paths[0]))


def _build_densefuse(paths: Sequence[Path]) -> Any:
    from . import models

    return _strict(models.DenseFuse(channels=1), _torch_load(paths[0]))


def _build_u2fusion(paths: Sequence[Path]) -> Any:
    from . import models

    return _strict(models.U2Fusion(), _torch_load(paths[0]))


# --------------------------------------------------------------------------------------------
# Input builders and output mappers (numpy; float32 planes in [0, 1] in, luminance plane out)
# --------------------------------------------------------------------------------------------

def _plane(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)[None, None]


def _vis_ir(ir: np.ndarray, vis_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"vis": _plane(vis_y), "ir": _plane(ir)}


def _ir_vis(ir: np.ndarray, vis_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"ir": _plane(ir), "vis": _plane(vis_y)}


def _ir_vis_255(ir: np.ndarray, vis_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"ir": _plane(ir) * 255.0, "vis": _plane(vis_y) * 255.0}


def _vis_ir_rgb(ir: np.ndarray, vis_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"vis": np.repeat(_plane(vis_y), 3, axis=1), "ir": np.repeat(_plane(ir), 3, axis=1)}


def _cat_ir_vis(ir: np.ndarray, vis_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"x": np.stack((ir, vis_y)).astype(np.float32)[None]}


def _cat_vis_ir(ir: np.ndarray, vis_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"x": np.stack((vis_y, ir)).astype(np.float32)[None]}


def _plain(outputs: list[np.ndarray]) -> np.ndarray:
    return outputs[0][0, 0]


def _clamped_rgb_to_gray(outputs: list[np.ndarray]) -> np.ndarray:
    rgb = np.clip(outputs[0][0], 0.0, 1.0)
    return np.tensordot(_LUMA, rgb, axes=1)


def _clamped_255(outputs: list[np.ndarray]) -> np.ndarray:
    return np.clip(outputs[0][0, 0], 0.0, 255.0) / 255.0


PEERS: dict[str, PeerSpec] = {spec.name: spec for spec in (
    PeerSpec("seafusion", "SeAFusion", "SeAFusion (Tang et al. 2022), official min-max stretch",
             "Tang, Yuan, Ma, Information Fusion 82:28-42, 2022",
             ("SeAFusion/SeAFusion.pth",), ("vis", "ir"), (1, 1),
             _build_seafusion, _vis_ir, _plain, 166_883, rgb_stretch=True),
    PeerSpec("tardal", "TarDAL-DT", "TarDAL generator, tardal-dt, batch-statistics BN (Liu et al. 2022)",
             "Liu et al., CVPR 2022, pp. 5802-5811",
             ("TarDAL/tardal-dt.pth",), ("x",), (2,),
             _build_tardal, _cat_ir_vis, _plain, 296_577),
    PeerSpec("didfuse", "DIDFuse", "DIDFuse auto-encoder, features summed (Zhao et al. 2020)",
             "Zhao et al., IJCAI 2020, pp. 970-976",
             ("DIDFuse/Encoder_weight_IJCAI.pkl", "DIDFuse/Decoder_weight_IJCAI.pkl"), ("ir", "vis"), (1, 1),
             _build_didfuse, _ir_vis, _plain, 260_935),
    PeerSpec("ifcnn", "IFCNN-MAX", "IFCNN with max fusion, gray replicated to RGB (Zhang et al. 2020)",
             "Zhang et al., Information Fusion 54:99-118, 2020",
             ("IFCNN/IFCNN-MAX.pth",), ("vis", "ir"), (3, 3),
             _build_ifcnn, _vis_ir_rgb, _clamped_rgb_to_gray, 83_587),
    PeerSpec("densefuse", "DenseFuse", "DenseFuse gray model on 0-255 inputs, features averaged (Li & Wu 2019)",
             "Li and Wu, IEEE TIP 28(5):2614-2623, 2019",
             ("DenseFuse/densefuse_gray.model",), ("ir", "vis"), (1, 1),
             _build_densefuse, _ir_vis_255, _clamped_255, 74_193),
    PeerSpec("u2fusion", "U2Fusion", "U2Fusion generator from the official TF checkpoint (Xu et al. 2022)",
             "Xu et al., IEEE TPAMI 44(1):502-518, 2022",
             ("U2Fusion/u2fusion_ivf_torch.pth",), ("x",), (2,),
             _build_u2fusion, _cat_vis_ir, _plain, 659_217),
)}


def peer_names() -> list[str]:
    return list(PEERS)


def get_spec(name: str) -> PeerSpec:
    try:
        return PEERS[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown peer network '{name}'; known: {', '.join(PEERS)}") from None


def weights_dir() -> Path:
    """``<shared>/weights/peers`` (the shared root is resolved as everywhere else)."""
    return shared_root() / "weights" / "peers"


def checkpoint_paths(name: str) -> list[Path]:
    """The peer's checkpoint files; PeerWeightsMissing names every file that is not there."""
    spec = get_spec(name)
    try:
        root = weights_dir()
    except ConfigError as exc:
        raise PeerWeightsMissing(f"{spec.title} weights not available: {exc}") from exc
    paths = [root / rel for rel in spec.checkpoints]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise PeerWeightsMissing(f"{spec.title} weights missing: {', '.join(missing)} "
                                 "(see <shared>/weights/README.md for where they come from)")
    return paths


def build_torch(name: str) -> Any:
    """The peer as a loaded PyTorch module in eval mode (weights loaded strictly)."""
    spec = get_spec(name)
    return spec.build(checkpoint_paths(name))


# --------------------------------------------------------------------------------------------
# ONNX export and artifacts
# --------------------------------------------------------------------------------------------

_SOURCES = (Path(__file__), Path(__file__).with_name("models.py"))


def onnx_path(name: str, out_dir: Path | None = None) -> Path:
    return Path(out_dir or model_cache_dir() / "onnx") / f"{get_spec(name).name}.onnx"


def _is_fresh(target: Path, inputs: Sequence[Path]) -> bool:
    if not target.is_file():
        return False
    stamp = target.stat().st_mtime
    return all(p.stat().st_mtime < stamp for p in inputs if p.is_file())


def export_onnx(name: str, out_dir: Path | None = None, *, force: bool = False) -> Path:
    """Export the peer to ``<out_dir or model_cache_dir()/onnx>/<name>.onnx``, dynamic H and W.

    Skipped when the file exists and is newer than the checkpoint(s) and than this package's
    model code (so a fixed definition is never served from a stale export). Written to a
    temporary file and renamed, so concurrent users never read a half-written model.
    """
    import torch

    spec = get_spec(name)
    paths = checkpoint_paths(name)
    target = onnx_path(name, out_dir)
    if not force and _is_fresh(target, [*paths, *_SOURCES]):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    module = spec.build(paths)
    generator = torch.Generator().manual_seed(0)
    dummy = tuple(torch.rand(1, c, 48, 64, generator=generator) for c in spec.input_channels)
    axes = {n: {2: "height", 3: "width"} for n in (*spec.input_names, OUTPUT_NAME)}
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation and constant-folding notes; parity is tested
            torch.onnx.export(module, dummy, str(tmp), input_names=list(spec.input_names),
                              output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def artifacts(name: str, *, onnx: bool = True, out_dir: Path | None = None) -> ModelArtifacts:
    """What the backends need for the peer: the ONNX file (exported if needed, unless
    ``onnx=False``) and a factory of the loaded PyTorch module."""
    spec = get_spec(name)
    path = export_onnx(spec.name, out_dir) if onnx else None
    profile = {n: ((1, c, 32, 32), (1, c, 480, 640), (1, c, 1088, 1920))
               for n, c in zip(spec.input_names, spec.input_channels, strict=True)}
    return ModelArtifacts(spec.name, list(spec.input_names), [OUTPUT_NAME], onnx_path=path,
                          torch_factory=functools.partial(build_torch, spec.name), dynamic_shape_profile=profile)


class StretchedNetworkFusion(NetworkFusion):
    """A NetworkFusion whose colour output gets a global min-max stretch, as the peer's own
    test script saves it (the stretch needs the recoloured image, so it lives in ``fuse``)."""

    def fuse(self, ir: np.ndarray, vis: np.ndarray, **conditioning: object) -> np.ndarray:
        return minmax_stretch_rgb(super().fuse(ir, vis, **conditioning))


def create_peer_method(name: str, backend: str = "onnxruntime", threads: int = 2, *, device: str = "cpu",
                       precision: str = "fp32") -> NetworkFusion:
    """The peer as a FusionMethod. Nothing is loaded or exported until the first fusion."""
    spec = get_spec(name)

    def factory() -> Any:
        return create_backend(artifacts(spec.name, onnx=backend != "torch"), backend, device=device,
                              precision=precision, threads=threads)

    cls = StretchedNetworkFusion if spec.rgb_stretch else NetworkFusion
    return cls(spec.name, spec.description, factory, make_inputs=spec.make_inputs, map_output=spec.map_output,
               extra_info={"peer": spec.title, "paper": spec.citation, "checkpoints": ", ".join(spec.checkpoints),
                           "parameters": spec.parameters})


def _factory(name: str) -> Callable[[RuntimeOptions], NetworkFusion]:
    def create(options: RuntimeOptions) -> NetworkFusion:
        return create_peer_method(name, options.backend, options.threads, device=options.device,
                                  precision=options.precision)

    return create


def register_peers() -> None:
    """Register every peer in the fusion registry under its lowercase name; the registry's
    RuntimeOptions choose backend, device, precision and threads."""
    for spec in PEERS.values():
        register_method(spec.name, _factory(spec.name), is_network=True)
