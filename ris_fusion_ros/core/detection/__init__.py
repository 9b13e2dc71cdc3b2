"""Object detection: model definitions, decoding, NMS and instance masks (ROS-free).

``create_detector(name, runtime, shared, **options)`` is the entry point; the torch and ONNX
dependencies are imported only when a detector is created.
"""

from .detector import DEFAULT_CONF, DEFAULT_IOU, NAMED_MODELS, Detector, Prediction, create_detector
from .types import Detection, detect_many

__all__ = ["DEFAULT_CONF", "DEFAULT_IOU", "NAMED_MODELS", "Detection", "Detector", "Prediction", "create_detector",
           "detect_many"]
