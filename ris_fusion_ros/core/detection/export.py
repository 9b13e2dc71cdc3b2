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


def export_yolov5(weights: Path, out: Path | None = None, *, force: bool = False, opset: int = 17) -> Path:
    """Write the ONNX file (to ``out`` or the cache) unless it is already there; return its path.

    Written to a temporary name and renamed, so a concurrent reader never sees half a file.
    """
    import onnx
    import torch

    weights = Path(weights)
    target = Path(out) if out is not None else cached_onnx_path(weights)
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    ckpt = yolov5.load_checkpoint(weights)
    model = yolov5.build_yolov5(weights)
    segmentation = bool(ckpt.get("nm"))
    outputs = output_names(segmentation)
    axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch", 1: "rows"}}
    if segmentation:
        axes["output1"] = {0: "batch", 2: "proto_height", 3: "proto_width"}
    dummy = torch.zeros(1, 3, 320, 416)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and legacy-exporter notes; parity is tested
            torch.onnx.export(model, (dummy,), str(tmp), input_names=[INPUT_NAME], output_names=outputs,
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
        proto = onnx.load(str(tmp))
        names = {i: str(n) for i, n in enumerate(ckpt["names"])}
        imgsz = [int(v) for v in ckpt.get("imgsz", [640, 640])]  # the size it was trained at
        meta = {"names": repr(names), "layout": "yolov5", "stride": "32", "imgsz": str(imgsz),
                "task": "segment" if segmentation else "detect",
                "weights_sha256": yolov5.file_sha256(weights),
                "license": "weights: AGPL-3.0 (Ultralytics YOLOv5); do not redistribute this file"}
        if ckpt.get("finetuned_from"):
            meta["finetuned_from"] = str(ckpt["finetuned_from"])
        del proto.metadata_props[:]
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def export_yolox(checkpoint: Path, out: Path, *, opset: int = 17) -> Path:
    """Write a fine-tuned YOLOX-Nano checkpoint (``train detector --model yolox-nano``) as ONNX: dynamic batch,
    height and width, output ``[B, N, 5 + nc]`` in YOLOX's row layout, class names, training size and licence
    in the metadata. YOLOX-Nano is Apache-2.0, so this file may ship with the package."""
    import onnx
    import torch

    from .yolox import LICENSE, build_yolox

    ckpt = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    if ckpt.get("arch") != "yolox-nano":
        raise ConfigError(f"{checkpoint} is not a YOLOX-Nano checkpoint (arch {ckpt.get('arch')!r})")
    model = build_yolox(int(ckpt["nc"]))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 1: "rows"}}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(1, 3, 320, 416),), str(tmp), input_names=[INPUT_NAME],
                              output_names=["output"], dynamic_axes=axes, opset_version=opset, dynamo=False)
        proto = onnx.load(str(tmp))
        meta = {"names": repr({i: str(n) for i, n in enumerate(ckpt["names"])}), "layout": "yolox", "stride": "32",
                "imgsz": str([int(v) for v in ckpt.get("imgsz", [640, 640])]), "task": "detect",
                "finetuned_from": str(ckpt.get("finetuned_from", "")), "license": LICENSE}
        del proto.metadata_props[:]
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
