"""ROS 2 bags without a ROS installation (rosbags): the type store with the package's messages,
message builders, and one writer that serialises whatever a replay or the bag maker produces.

Custom types are registered from their ``.msg`` text: ``ris_fusion_msgs`` and the ``vision_msgs``
subset, looked up in the ament prefixes (an installed workspace) and then in this repository.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError

REPO_ROOT = Path(__file__).resolve().parents[3]
CUSTOM_PACKAGES = ("vision_msgs", "ris_fusion_msgs")
# dependency order inside each package (a type must be registered after the types it uses)
_ORDER = {"vision_msgs": ("Point2D", "Pose2D", "BoundingBox2D", "ObjectHypothesis", "ObjectHypothesisWithPose",
                          "Detection2D", "Detection2DArray"),
          "ris_fusion_msgs": ("ReferredInstance", "ReferringResult")}
STORAGES = ("mcap", "sqlite3")


def _msg_dir(package: str) -> Path:
    candidates = [Path(p) / "share" / package / "msg" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(":") if p]
    candidates.append(REPO_ROOT / package / "msg")
    for path in candidates:
        if (path / f"{_ORDER[package][-1]}.msg").is_file():
            return path
    raise ConfigError(f"message definitions of {package} not found (looked in {', '.join(map(str, candidates))})")


_TYPESTORE: Any = None


def typestore() -> Any:
    """The ROS 2 Jazzy type store plus ``vision_msgs`` (2D subset) and ``ris_fusion_msgs`` (cached)."""
    global _TYPESTORE
    if _TYPESTORE is None:
        from rosbags.typesys import Stores, get_types_from_msg, get_typestore

        store = get_typestore(Stores.ROS2_JAZZY)
        for package in CUSTOM_PACKAGES:
            folder = _msg_dir(package)
            for name in _ORDER[package]:
                text = (folder / f"{name}.msg").read_text(encoding="utf-8")
                store.register(get_types_from_msg(text, f"{package}/msg/{name}"))
        _TYPESTORE = store
    return _TYPESTORE


def _msg(name: str) -> Any:
    return typestore().types[name]


def header(stamp_ns: int, frame_id: str) -> Any:
    time_cls, header_cls = _msg("builtin_interfaces/msg/Time"), _msg("std_msgs/msg/Header")
    return header_cls(stamp=time_cls(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000)),
                      frame_id=frame_id)


def image(array: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Any:
    """A rosbags ``sensor_msgs/Image`` (same field encoding as the nodes: core.io.image_codec)."""
    from ..io.image_codec import array_to_image_fields

    fields = array_to_image_fields(array, encoding)
    fields["data"] = np.frombuffer(fields["data"], np.uint8)
    return _msg("sensor_msgs/msg/Image")(header=header(stamp_ns, frame_id), **fields)


def string(text: str) -> Any:
    return _msg("std_msgs/msg/String")(data=text)


def camera_info(width: int, height: int, stamp_ns: int, frame_id: str, hfov_degrees: float = 60.0) -> Any:
    """A plain pinhole ``CameraInfo`` (no distortion) with the given horizontal field of view."""
    fx = width / 2.0 / np.tan(np.radians(hfov_degrees) / 2.0)
    cx, cy = width / 2.0, height / 2.0
    k = np.array([fx, 0, cx, 0, fx, cy, 0, 0, 1], np.float64)
    p = np.array([fx, 0, cx, 0, 0, fx, cy, 0, 0, 0, 1, 0], np.float64)
    roi = _msg("sensor_msgs/msg/RegionOfInterest")(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return _msg("sensor_msgs/msg/CameraInfo")(
        header=header(stamp_ns, frame_id), height=height, width=width, distortion_model="plumb_bob",
        d=np.zeros(5), k=k, r=np.array([1, 0, 0, 0, 1, 0, 0, 0, 1], np.float64), p=p, binning_x=0, binning_y=0,
        roi=roi)


def marker_array(markers: Iterable[Any], stamp_ns: int, frame_id: str) -> Any:
    """A rosbags ``visualization_msgs/MarkerArray`` from :class:`~.markers.MarkerData` (the fields the live
    nodes' rclpy conversion sets; the others keep the message defaults)."""
    t = typestore().types
    hdr = header(stamp_ns, frame_id)
    point, empty = t["geometry_msgs/msg/Point"], np.zeros(0, np.uint8)
    out = []
    for m in markers:
        pose = t["geometry_msgs/msg/Pose"](position=point(x=float(m.position[0]), y=float(m.position[1]),
                                                          z=float(m.position[2])),
                                           orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0))
        out.append(t["visualization_msgs/msg/Marker"](
            header=hdr, ns=m.ns, id=int(m.id), type=int(m.type), action=int(m.action), pose=pose,
            scale=t["geometry_msgs/msg/Vector3"](x=float(m.scale[0]), y=float(m.scale[1]), z=float(m.scale[2])),
            color=t["std_msgs/msg/ColorRGBA"](r=float(m.color[0]), g=float(m.color[1]), b=float(m.color[2]),
                                              a=float(m.color[3])),
            lifetime=t["builtin_interfaces/msg/Duration"](sec=int(m.lifetime[0]), nanosec=int(m.lifetime[1])),
            frame_locked=False, points=[point(x=float(x), y=float(y), z=float(z)) for x, y, z in m.points], colors=[],
            texture_resource="",
            texture=t["sensor_msgs/msg/CompressedImage"](header=header(0, ""), format="", data=empty),
            uv_coordinates=[], text=m.text, mesh_resource="",
            mesh_file=t["visualization_msgs/msg/MeshFile"](filename="", data=empty), mesh_use_embedded_materials=False))
    return t["visualization_msgs/msg/MarkerArray"](markers=out)


class BagWriter:
    """rosbags Writer with lazily added connections: ``write(topic, msgtype, msg, log_time_ns)``."""

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise ConfigError(f"storage must be one of {STORAGES}, got {storage!r}")
        path = Path(path)
        if path.exists():
            raise ConfigError(f"output bag {path} already exists; remove it or choose another --out")
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.path = path
        self._writer = Writer(path, version=9, storage_plugin=plugin)
        self._writer.open()
        self._connections: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def write(self, topic: str, msgtype: str, msg: Any, log_time_ns: int) -> None:
        store = typestore()
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msgtype, typestore=store)
            self._connections[topic] = connection
        self._writer.write(connection, int(log_time_ns), store.serialize_cdr(msg, msgtype))
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_messages(path: str | Path, topics: set[str] | None = None) -> Iterator[tuple[str, str, int, Any]]:
    """``(topic, msgtype, log_time_ns, message)`` in log-time order (MCAP or sqlite3, any ROS 2 distro)."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise DataError(f"bag {path} does not exist")
    with AnyReader([path], default_typestore=typestore()) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        for connection, timestamp, raw in reader.messages(connections=connections):
            yield connection.topic, connection.msgtype, timestamp, reader.deserialize(raw, connection.msgtype)


def bag_summary(path: str | Path) -> dict[str, Any]:
    """Topics with types and counts, start/end log times (ns) and the storage file names."""
    from rosbags.highlevel import AnyReader

    with AnyReader([Path(path)], default_typestore=typestore()) as reader:
        topics = {c.topic: {"type": c.msgtype, "count": c.msgcount} for c in reader.connections}
        return {"topics": topics, "start_ns": reader.start_time, "end_ns": reader.end_time,
                "duration_s": (reader.end_time - reader.start_time) / 1e9 if topics else 0.0,
                "messages": sum(t["count"] for t in topics.values())}
