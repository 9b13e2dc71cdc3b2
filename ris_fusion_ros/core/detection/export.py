"""Export the YOLOv5n(-seg) definitions and fine-tuned YOLOX-Nano checkpoints to ONNX: dynamic batch,
height and width.

Files derived from the AGPL-3.0 weights never go into the repo: by default they land in
``model_cache_dir()/detectors/<model>-<weights sha256[:16]>-<code hash>.onnx`` (regenerated on
first use), or wherever ``ris-fusion export detector --out`` puts them. The class names, the
output layout and the stride are stored in the ONNX metadata, as Ultralytics does.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

from ..errors import ConfigError
from ..paths import model_cache_dir
from . import yolov5

INPUT_NAME = "images"
_SOURCES = (Path(yolov5.__file__), Path(__file__))


def _code_hash() -> str:
    digest = hashlib.sha256()
    for path in _SOURCES:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def output_names(segmentation: bool) -> list[str]:
    return ["output0", "output1"] if segmentation else ["output0"]


def cached_onnx_path(weights: Path) -> Path:
    """Cache location keyed by the weight file's hash and this package's model code."""
    name = f"{Path(weights).stem}-{yolov5.file_sha256(weights)[:16]}-{_code_hash()}.onnx"
    return model_cache_dir() / "detectors" / name


def _write_onnx(model, target: Path, outputs: list[str], axes: dict, meta: dict[str, str], opset: int) -> Path:
    """Trace ``model`` on a 320x416 input into ``target`` with ``meta`` as ONNX metadata (dynamic batch and
    size per ``axes``). Written to a temporary name and renamed, so a concurrent reader never sees half a file."""
    import onnx
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and legacy-exporter notes; parity is tested
            torch.onnx.export(model, (torch.zeros(1, 3, 320, 416),), str(tmp), input_names=[INPUT_NAME],
                              output_names=outputs, dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
                              | axes, opset_version=opset, dynamo=False)
        proto = onnx.load(str(tmp))
        del proto.metadata_props[:]
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _names(names) -> str:
    return repr({i: str(n) for i, n in enumerate(names)})


def _imgsz(ckpt: dict) -> str:
    return str([int(v) for v in ckpt.get("imgsz", [640, 640])])  # the size it was trained at


def export_yolov5(weights: Path, out: Path | None = None, *, force: bool = False, opset: int = 17) -> Path:
    """Write the ONNX file (to ``out`` or the cache) unless it is already there; return its path."""
    weights = Path(weights)
    target = Path(out) if out is not None else cached_onnx_path(weights)
    if target.is_file() and not force:
        return target
    ckpt = yolov5.load_checkpoint(weights)
    segmentation = bool(ckpt.get("nm"))
    axes = {"output0": {0: "batch", 1: "rows"}}
    if segmentation:
        axes["output1"] = {0: "batch", 2: "proto_height", 3: "proto_width"}
    meta = {"names": _names(ckpt["names"]), "layout": "yolov5", "stride": "32", "imgsz": _imgsz(ckpt),
            "task": "segment" if segmentation else "detect", "weights_sha256": yolov5.file_sha256(weights),
            "license": "weights: AGPL-3.0 (Ultralytics YOLOv5); do not redistribute this file"}
    if ckpt.get("finetuned_from"):
        meta["finetuned_from"] = str(ckpt["finetuned_from"])
    return _write_onnx(yolov5.build_yolov5(weights), target, output_names(segmentation), axes, meta, opset)


def export_yolox(checkpoint: Path, out: Path, *, opset: int = 17) -> Path:
    """Write a fine-tuned YOLOX-Nano checkpoint (``train detector --model yolox-nano``) as ONNX: dynamic batch,
    height and width, output ``[B, N, 5 + nc]`` in YOLOX's row layout, class names, training size and licence
    in the metadata. YOLOX-Nano is Apache-2.0, so this file may ship with the package."""
    import torch

    from .yolox import LICENSE

    ckpt = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    model = _yolox_from(ckpt, checkpoint)
    meta = {"names": _names(ckpt["names"]), "layout": "yolox", "stride": "32", "imgsz": _imgsz(ckpt),
            "task": "detect", "finetuned_from": str(ckpt.get("finetuned_from", "")), "license": LICENSE}
    return _write_onnx(model.eval(), Path(out), ["output"], {"output": {0: "batch", 1: "rows"}}, meta, opset)


def _yolox_from(ckpt: dict, checkpoint: Path):
    from .yolox import build_yolox

    if ckpt.get("arch") != "yolox-nano":
        raise ConfigError(f"{checkpoint} is not a YOLOX-Nano checkpoint (arch {ckpt.get('arch')!r})")
    model = build_yolox(int(ckpt["nc"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def is_yolox_checkpoint(checkpoint: Path) -> bool:
    """True for ``train detector --model yolox-nano`` checkpoints, False for YOLOv5 ones (by their ``arch``)."""
    return yolov5.load_checkpoint(checkpoint).get("arch") == "yolox-nano"


def checkpoint_module(checkpoint: Path):
    """The PyTorch module of a detector checkpoint (YOLOv5 tensors-only or fine-tuned YOLOX-Nano), eval mode."""
    if is_yolox_checkpoint(checkpoint):
        return _yolox_from(yolov5.load_checkpoint(checkpoint), checkpoint)
    return yolov5.build_yolov5(checkpoint)


def export_checkpoint(checkpoint: Path, out: Path | None = None, *, opset: int = 17) -> Path:
    """Export a detector checkpoint, YOLOv5 or fine-tuned YOLOX-Nano, to ``out`` (default: beside it)."""
    checkpoint = Path(checkpoint)
    target = Path(out) if out is not None else checkpoint.with_suffix(".onnx")
    if is_yolox_checkpoint(checkpoint):
        return export_yolox(checkpoint, target, opset=opset)
    return export_yolov5(checkpoint, target, force=True, opset=opset)
