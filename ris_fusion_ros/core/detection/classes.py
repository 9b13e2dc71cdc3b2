"""Class names: the COCO-80 list (index = class id) and Ultralytics' ONNX ``names`` metadata."""

from __future__ import annotations

import ast

from ..errors import ConfigError

COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)


def parse_names(text: str) -> list[str]:
    """Names from a metadata string: a dict ``{0: 'person', 1: 'car'}`` (Ultralytics) or a list."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise ConfigError(f"cannot read class names from model metadata {text[:80]!r}: {exc}") from exc
    if isinstance(value, dict):
        if sorted(value) != list(range(len(value))):
            raise ConfigError(f"class-name ids in model metadata are not 0..{len(value) - 1}: {sorted(value)[:10]}")
        return [str(value[i]) for i in range(len(value))]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise ConfigError(f"model metadata 'names' is neither a dict nor a list: {text[:80]!r}")


def default_names(nc: int) -> list[str]:
    """COCO names for 80-class models, else ``class<i>``."""
    return list(COCO80) if nc == len(COCO80) else [f"class{i}" for i in range(nc)]
