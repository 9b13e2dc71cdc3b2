"""RisFuseNet, the project's own fusion network: model, losses, training, export, and the
FusionMethod that runs it through any backend with optional control map and text embedding.

Importing this package does not import PyTorch; only training, export and the torch
backend need it. The shipped weights (``ris_fusion_ros/models/risfusenet.{pt,onnx}``)
are produced by the command recorded in ``risfusenet.json`` next to them.
"""

from .method import RisFuseNetFusion, default_model_dir, risfusenet_artifacts

__all__ = ["RisFuseNetFusion", "default_model_dir", "risfusenet_artifacts"]
