"""One detector interface over every model and runtime: letterbox -> backend -> decode -> NMS -> masks.

``create_detector("yolov5n" | "yolov5n-seg" | "yolox-nano" | "yolox-nano-msrs" | "<file>.onnx")`` returns a
:class:`Detector`. Defaults: confidence 0.25, class-aware NMS at IoU 0.45, at most 300 boxes
(YOLOv5's defaults); all are options. Models with a dynamic input size run "rect" (the image
is scaled to fit ``imgsz`` and padded only to a multiple of 32: a 640x480 frame goes in as
480x640); fixed-size models get the full square letterbox.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..paths import shared_root
from . import decode, masks
from .classes import default_names, parse_names
from .letterbox import Letterbox, LetterboxSpec, as_rgb, letterbox, to_tensor
from .nms import nms
from .types import OPERATING_SCORE, Detection

if TYPE_CHECKING:
    from .ensemble import EnsembleDetector

DEFAULT_CONF = OPERATING_SCORE
DEFAULT_IOU = 0.45
DEFAULT_MAX_DET = 300
DEFAULT_IMGSZ = 640
NAMED_MODELS = ("yolov5n", "yolov5n-seg", "yolox-nano", "yolox-nano-msrs")
WEIGHT_FILES = {"yolov5n": "yolov5n_coco.pt", "yolov5n-seg": "yolov5n-seg_coco.pt", "yolox-nano": "yolox_nano.onnx"}
# Shipped with the package (Apache-2.0, fine-tuned here from YOLOX-Nano): ris_fusion_ros/models/<file>
PACKAGED_MODELS = {"yolox-nano-msrs": "yolox_nano_msrs.onnx"}
OPTIONS = ("conf", "iou", "max_det", "agnostic", "classes", "imgsz", "rect", "layout", "bgr", "scale", "center",
           "coeff_times_obj", "names")


@dataclass
class Prediction:
    """Everything one inference produced, in model-input pixels (``detect`` turns it into Detections)."""

    candidates: decode.Candidates
    letterbox: Letterbox
    protos: np.ndarray | None  # (nm, H/4, W/4) for segmentation models


@dataclass(frozen=True)
class OnnxHeader:
    """What the ONNX file says about itself: input name and shape (None = dynamic), metadata."""

    input_name: str
    input_shape: tuple[int | None, ...]
    output_names: tuple[str, ...]
    metadata: dict[str, str]


def read_onnx_header(path: Path) -> OnnxHeader:
    try:
        import onnx
    except ImportError as exc:
        raise ConfigError("reading a detector's ONNX file needs the onnx package: pip install onnx") from exc
    if not Path(path).is_file():
        raise ConfigError(f"detector model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ConfigError(f"cannot read ONNX model {path}: {exc}") from exc
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ConfigError(f"{path}: a detector must have exactly one image input, found {[i.name for i in inputs]}")
    dims = tuple((d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None)
                 for d in inputs[0].type.tensor_type.shape.dim)
    if len(dims) != 4 or dims[1] not in (3, None):
        raise ConfigError(f"{path}: detector input must be [batch, 3, height, width], got {list(dims)}")
    return OnnxHeader(inputs[0].name, dims, tuple(o.name for o in model.graph.output),
                      {p.key: p.value for p in model.metadata_props})


class Detector:
    """Runs one detection model through an :class:`InferenceBackend`.

    ``detect`` takes a uint8 RGB HxWx3 (or gray HxW) image and returns :class:`Detection` records
    with boxes in that image's pixels, and bool HxW masks for segmentation models.
    """

    def __init__(self, backend: Any, *, name: str, input_name: str = "images",
                 input_hw: tuple[int | None, int | None] = (None, None), class_names: Sequence[str] | None = None,
                 layout: str | None = None, conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU,
                 max_det: int = DEFAULT_MAX_DET, agnostic: bool = False, classes: Sequence[int] | None = None,
                 imgsz: int | Sequence[int] = DEFAULT_IMGSZ, rect: bool | None = None, bgr: bool | None = None,
                 scale: float | None = None, center: bool | None = None, coeff_times_obj: bool | None = None,
                 model_path: str | None = None, max_batch: int | None = None) -> None:
        for label, value in (("conf", conf), ("iou", iou)):
            if not 0.0 <= float(value) <= 1.0:
                raise ConfigError(f"detector {label} threshold must be in [0, 1], got {value}")
        if int(max_det) < 1:
            raise ConfigError(f"max_det must be at least 1, got {max_det}")
        self.backend, self.name, self.model_path = backend, name, model_path
        if max_batch is not None and int(max_batch) < 1:
            raise ConfigError(f"max_batch must be at least 1 (or None for any), got {max_batch}")
        self.max_batch = None if max_batch is None else int(max_batch)  # None: the model takes any batch
        self.input_name = input_name
        self.conf, self.iou, self.max_det, self.agnostic = float(conf), float(iou), int(max_det), bool(agnostic)
        self.classes = None if classes is None else [int(c) for c in classes]
        fixed = all(v is not None for v in input_hw)
        size = tuple(int(v) for v in input_hw) if fixed else _pair(imgsz)
        self._fixed = fixed
        self._size = size
        self._rect = (not fixed) if rect is None else bool(rect)
        if fixed and self._rect:
            raise ConfigError(f"{name}: rect letterbox needs a model with a dynamic input size; this one is "
                              f"fixed at {size[1]}x{size[0]}")
        # Layout from one run on a blank frame (also checks the model runs at all).
        probe, _ = letterbox(np.full((*size, 3), 114, np.uint8), LetterboxSpec(size))
        shapes = [o.shape for o in backend.run({input_name: to_tensor(probe)})]
        self.layout = decode.resolve_layout(shapes, size, layout)
        yolox = self.layout.kind == "yolox"
        self._bgr = yolox if bgr is None else bool(bgr)
        self._scale = (1.0 if yolox else 1.0 / 255.0) if scale is None else float(scale)
        self._center = (not yolox) if center is None else bool(center)
        self._coeff_times_obj = (self.layout.kind == "yolov5") if coeff_times_obj is None else bool(coeff_times_obj)
        names = list(class_names) if class_names is not None else default_names(self.layout.nc)
        if len(names) != self.layout.nc:
            raise ConfigError(f"{name}: {len(names)} class names for a model with {self.layout.nc} classes")
        self.class_names: list[str] = names

    @property
    def segmentation(self) -> bool:
        return self.layout.nm > 0

    def _spec(self) -> LetterboxSpec:
        return LetterboxSpec(self._size, center=self._center, auto=self._rect)

    def fed_size(self, image: np.ndarray) -> tuple[int, int]:
        """(height, width) of the letterboxed tensor this detector feeds its network for ``image``."""
        return letterbox(as_rgb(image), self._spec())[1].input_hw

    def predict(self, image: np.ndarray, conf: float | None = None) -> Prediction:
        """Letterbox, run, decode and NMS; results stay in model-input pixels."""
        return self.predict_many([image], conf)[0]

    def predict_many(self, images: Sequence[np.ndarray], conf: float | None = None) -> list[Prediction]:
        """:meth:`predict` for several images in as few network runs as the model allows: images whose
        letterboxed tensors have one shape go through together (up to ``max_batch``): one batched run costs
        less than separate ones (ONNX Runtime on 2 cores, two 640x480 frames: YOLOX-Nano about 15 % less,
        YOLOv5n at 800 px about 3 %)."""
        threshold = self.conf if conf is None else float(conf)
        fed = [letterbox(as_rgb(image), self._spec()) for image in images]
        tensors = [to_tensor(padded, bgr=self._bgr, scale=self._scale) for padded, _ in fed]
        predictions = []
        for (_, box), outputs in zip(fed, self._run_batched(tensors), strict=True):
            cand = decode.candidates(outputs, self.layout, box.input_hw, threshold,
                                     coeff_times_obj=self._coeff_times_obj, classes=self.classes)
            keep = nms(cand.boxes, cand.scores, self.iou, None if self.agnostic else cand.class_ids, self.max_det)
            protos = outputs[self.layout.proto_index][0] if self.layout.proto_index is not None else None
            predictions.append(Prediction(cand.take(keep), box, protos))
        return predictions

    def _run_batched(self, tensors: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        """The network's outputs for each (1, 3, H, W) tensor, batch 1 each, from batched runs of equal shapes."""
        results: list[list[np.ndarray] | None] = [None] * len(tensors)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, tensor in enumerate(tensors):
            by_shape.setdefault(tuple(tensor.shape), []).append(index)
        for indices in by_shape.values():
            step = self.max_batch or len(indices)
            for start in range(0, len(indices), step):
                chunk = indices[start:start + step]
                batch = tensors[chunk[0]] if len(chunk) == 1 else np.concatenate([tensors[i] for i in chunk])
                outputs = self.backend.run({self.input_name: batch})
                for row, index in enumerate(chunk):
                    results[index] = [output[row:row + 1] for output in outputs]
        return results  # type: ignore[return-value]

    def detect(self, image: np.ndarray, conf: float | None = None) -> list[Detection]:
        """Detections in the pixels of ``image``, highest score first."""
        return self.detect_many([image], conf)[0]

    def detect_many(self, images: Sequence[np.ndarray], conf: float | None = None) -> list[list[Detection]]:
        """:meth:`detect` for each of ``images`` (e.g. a fused frame and its thermal partner), batched."""
        return [self._detections(pred) for pred in self.predict_many(images, conf)]

    def _detections(self, pred: Prediction) -> list[Detection]:
        cand = pred.candidates
        boxes = pred.letterbox.boxes_to_original(cand.boxes)
        instance_masks: list[np.ndarray | None] = [None] * len(boxes)
        if pred.protos is not None and cand.coeffs is not None and len(boxes):
            instance_masks = list(masks.original_masks(pred.protos, cand.coeffs, cand.boxes, pred.letterbox))
        return [Detection(tuple(float(v) for v in b), float(s), int(c), self.class_names[int(c)], m)
                for b, s, c, m in zip(boxes, cand.scores, cand.class_ids, instance_masks, strict=True)]

    def info(self) -> dict[str, Any]:
        """Model, backend, layout and input size, for diagnostics and reports."""
        h, w = self._size
        details = {f"backend_{k}" if k == "model" else k: v for k, v in self.backend.info().items()}
        details |= {"model": self.name, "path": self.model_path or "", "layout": self.layout.kind,
                   "task": "segment" if self.segmentation else "detect", "classes": self.layout.nc,
                   "input_size": f"{w}x{h}" + (" (rect: padded to a multiple of 32)" if self._rect else ""),
                   "conf": self.conf, "iou": self.iou, "max_det": self.max_det,
                    "nms": "class-agnostic" if self.agnostic else "class-aware"}
        return details

    def close(self) -> None:
        self.backend.close()


def _pair(imgsz: int | Sequence[int]) -> tuple[int, int]:
    values = (int(imgsz), int(imgsz)) if isinstance(imgsz, (int, np.integer)) else tuple(int(v) for v in imgsz)
    if len(values) != 2 or min(values) < 32 or any(v % 32 for v in values):
        raise ConfigError(f"imgsz must be one or two multiples of 32 (>= 32), got {imgsz}")
    return values  # type: ignore[return-value]


def metadata_imgsz(text: str, path: Path) -> tuple[int, int]:
    """The letterbox size a model file says it was trained at (``"[800, 800]"`` or ``"640"``)."""
    try:
        value = ast.literal_eval(text)
        return _pair(value if isinstance(value, (list, tuple)) else int(value))
    except (ValueError, SyntaxError, TypeError, ConfigError) as exc:
        raise ConfigError(f"{path}: metadata imgsz {text[:40]!r} is not one or two multiples of 32") from exc


def weights_dir(shared: str | None = None) -> Path:
    return shared_root(shared) / "weights" / "detectors"


def model_path(name: str, shared: str | None = None) -> Path:
    """The file behind a named detector: packaged models from ``ris_fusion_ros/models``, the others from
    ``<shared>/weights/detectors``."""
    if name in PACKAGED_MODELS:
        return Path(__file__).resolve().parents[2] / "models" / PACKAGED_MODELS[name]
    return weights_dir(shared) / WEIGHT_FILES[name]


def _yolox_module(path: Path):
    from .yolox import load_onnx_weights

    return load_onnx_weights(path)


def _yolov5_artifacts(weights: Path, onnx: bool):
    """Backend artifacts and class names; with the ONNX file already cached, torch is not even imported."""
    from ...backends import ModelArtifacts
    from .export import INPUT_NAME, cached_onnx_path, export_yolov5
    from .yolov5 import build_yolov5, load_checkpoint

    if not weights.is_file():
        raise ConfigError(f"detector weights not found: {weights} (see <shared>/weights/detectors/NOTES.md)")
    onnx_path = cached_onnx_path(weights) if onnx else None
    if onnx_path is not None and onnx_path.is_file():
        header = read_onnx_header(onnx_path)
        outputs, names = list(header.output_names), parse_names(header.metadata["names"])
    else:
        ckpt = load_checkpoint(weights)
        outputs = ["output0", "output1"] if ckpt.get("nm") else ["output0"]
        names = [str(n) for n in ckpt["names"]]
        if onnx_path is not None:
            onnx_path = export_yolov5(weights)
    profile = {INPUT_NAME: ((1, 3, 32, 32), (1, 3, 480, 640), (1, 3, 1280, 1280))}
    artifacts = ModelArtifacts(weights.stem, [INPUT_NAME], outputs, onnx_path=onnx_path,
                               torch_factory=functools.partial(build_yolov5, weights),
                               dynamic_shape_profile=profile)
    return artifacts, names


def create_detector(name: str, runtime: Any = None, shared: str | None = None,
                    **options: Any) -> Detector | EnsembleDetector:
    """A detector by name (:data:`NAMED_MODELS`) or ONNX file path, or an ensemble of
    such joined by ``+`` (:class:`~.ensemble.EnsembleDetector`: each member with the same options).

    ``runtime`` is a :class:`~ris_fusion_ros.core.fusion.RuntimeOptions` (default ONNX Runtime,
    CPU, fp32, 2 threads). Options: conf, iou, max_det, agnostic, classes (ids to keep), imgsz,
    rect, layout (force yolov5 / yolov8 / yolox), bgr, scale, center, coeff_times_obj, names.
    A dynamic-size ONNX file is fed at the ``imgsz`` of its metadata (the size it was trained at) unless
    ``imgsz`` is given. The YOLOv5 models are exported to the model cache on first use (ONNX Runtime, TensorRT).
    """
    from ...backends import ModelArtifacts, create_backend
    from ..fusion.registry import RuntimeOptions
    from .ensemble import EnsembleDetector, ensemble_members

    members = ensemble_members(name)
    if len(members) > 1:
        detectors = [create_detector(member, runtime, shared, **options) for member in members]
        return EnsembleDetector(detectors, detectors[0].conf)
    if options.get("imgsz", 0) is None:
        del options["imgsz"]  # "not given" from a command line
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown detector option(s) {unknown}; known: {', '.join(OPTIONS)}")
    runtime = runtime or RuntimeOptions()
    key = name.lower()
    # TensorRT engines are built for batch 1 (their shape profile); ONNX Runtime and PyTorch take any batch
    max_batch: int | None = 1 if runtime.backend == "tensorrt" else None
    names: list[str] | None = None
    if key in ("yolov5n", "yolov5n-seg"):
        weights = weights_dir(shared) / WEIGHT_FILES[key]
        artifacts, names = _yolov5_artifacts(weights, onnx=runtime.backend != "torch")
        path = weights
    elif key in NAMED_MODELS or name.endswith(".onnx"):
        named = key in NAMED_MODELS  # past the YOLOv5 branch: the YOLOX-Nano files (the published one, ours)
        path = model_path(key, shared) if named else Path(name)
        header = read_onnx_header(path)
        # YOLOX-Nano files also run eagerly: our definition reads their weights
        yolox = named or header.metadata.get("layout") == "yolox"
        artifacts = ModelArtifacts(key if named else path.stem, [header.input_name],
                                   list(header.output_names), onnx_path=path,
                                   torch_factory=functools.partial(_yolox_module, path) if yolox else None)
        if "names" in header.metadata:
            names = parse_names(header.metadata["names"])
        options.setdefault("layout", header.metadata.get("layout") if header.metadata.get("layout") in
                           decode.LAYOUTS else None)
        if header.input_shape[2] is not None and header.input_shape[3] is not None:
            options["input_hw"] = (header.input_shape[2], header.input_shape[3])
        elif "imgsz" in header.metadata and options.get("imgsz") is None:
            options["imgsz"] = metadata_imgsz(header.metadata["imgsz"], path)  # dynamic: the size it was trained at
        options["input_name"] = header.input_name
        if header.input_shape[0] is not None:  # a file exported with a fixed batch (the published YOLOX-Nano)
            max_batch = 1
    else:
        raise ConfigError(f"unknown detector '{name}'; use one of {', '.join(NAMED_MODELS)} or a path to an .onnx file")
    if "names" in options:
        names = list(options.pop("names"))
    backend = create_backend(artifacts, runtime.backend, device=runtime.device, precision=runtime.precision,
                             threads=runtime.threads)
    return Detector(backend, name=key if key in NAMED_MODELS else str(name), class_names=names,
                    model_path=str(path), max_batch=max_batch, **options)
