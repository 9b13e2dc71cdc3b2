"""Published IR-VIS fusion networks ("peers") re-implemented from their papers and weight notes,
runnable through the project's backends so they are scored and timed exactly like our methods.

Importing this package does not import torch; :mod:`.models` does, and is loaded on first use.
"""

from .zoo import (
    PEERS,
    PeerSpec,
    PeerWeightsMissing,
    artifacts,
    build_torch,
    checkpoint_paths,
    create_peer_method,
    export_onnx,
    peer_names,
    register_peers,
)

__all__ = [
    "PEERS",
    "PeerSpec",
    "PeerWeightsMissing",
    "artifacts",
    "build_torch",
    "checkpoint_paths",
    "create_peer_method",
    "export_onnx",
    "peer_names",
    "register_peers",
]
