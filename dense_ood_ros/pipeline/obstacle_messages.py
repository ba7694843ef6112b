"""The anomaly obstacles of one frame as ROS messages: a visualization_msgs/MarkerArray for
people (RViz) and a sensor_msgs/PointCloud2 of their ground contact points for a costmap.

The node (rclpy) and the replay (rosbags) build the same messages here: every function takes
`types`, which maps a ROS type name ("visualization_msgs/msg/Marker") to its class, either
`rclpy_types()` or a rosbags typestore's `types`. rosbags' dataclasses are given every field;
rclpy's messages only the fields that differ from their defaults. Nothing here imports ROS.

Everything is in the camera's optical frame (x right, y down, z forward; the image's header),
on flat ground (pipeline/ground): see docs/node.md.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from dense_ood_ros.codec.messages import pixels_as_uint8_array
from dense_ood_ros.pipeline.ground import GroundCamera, PlacedObstacle

__all__ = [
    "BOX_DEPTH_M",
    "CLOUD_DTYPE",
    "CLOUD_FIELDS",
    "LABELS_NS",
    "MIN_BOX_HEIGHT_M",
    "OBSTACLES_NS",
    "POINT_STEP",
    "MessageTypes",
    "box_height_m",
    "cloud_points",
    "marker_array",
    "point_cloud",
    "rclpy_types",
]

#: Marker namespaces: the boxes, and the text above each.
OBSTACLES_NS = "anomaly_obstacles"
LABELS_NS = "anomaly_labels"
#: A camera sees an obstacle's front only: every box is this deep.
BOX_DEPTH_M = 0.3
#: The lowest box drawn (an obstacle flat on the ground is still visible).
MIN_BOX_HEIGHT_M = 0.05
TEXT_HEIGHT_M = 0.3
BOX_RGBA = (1.0, 0.35, 0.0, 0.6)
TEXT_RGBA = (1.0, 1.0, 1.0, 1.0)

#: One point of anomaly_points: x, y, z (m, optical frame) and the obstacle's max score, each a
#: little-endian float32 at this byte offset.
CLOUD_FIELDS = (("x", 0), ("y", 4), ("z", 8), ("score", 12))
POINT_STEP = 16
CLOUD_DTYPE = np.dtype(
    {
        "names": [name for name, _ in CLOUD_FIELDS],
        "formats": ["<f4"] * len(CLOUD_FIELDS),
        "offsets": [offset for _, offset in CLOUD_FIELDS],
        "itemsize": POINT_STEP,
    }
)
FLOAT32 = 7  # sensor_msgs/PointField.FLOAT32

MARKER = "visualization_msgs/msg/Marker"
MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
MESH_FILE = "visualization_msgs/msg/MeshFile"  # Iron and later
POINT_CLOUD2 = "sensor_msgs/msg/PointCloud2"
POINT_FIELD = "sensor_msgs/msg/PointField"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
POSE = "geometry_msgs/msg/Pose"
POINT = "geometry_msgs/msg/Point"
QUATERNION = "geometry_msgs/msg/Quaternion"
VECTOR3 = "geometry_msgs/msg/Vector3"
COLOR = "std_msgs/msg/ColorRGBA"
DURATION = "builtin_interfaces/msg/Duration"

# visualization_msgs/Marker constants
ARROW, CUBE, TEXT_VIEW_FACING, ADD, DELETEALL = 0, 1, 9, 0, 3


class MessageTypes(Protocol):
    """ROS message classes by type name: a rosbags typestore's `types`, or `rclpy_types()`."""

    def __getitem__(self, name: str, /) -> Any: ...


class _RclpyTypes:
    """rclpy's message classes, imported on first use ("pkg/msg/Name" -> pkg.msg.Name)."""

    def __init__(self) -> None:
        self._classes: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._classes:
            package, kind, cls = name.split("/")
            self._classes[name] = getattr(importlib.import_module(f"{package}.{kind}"), cls)
        return self._classes[name]


_RCLPY_TYPES = _RclpyTypes()


def rclpy_types() -> MessageTypes:
    """The rclpy message classes (visualization_msgs, sensor_msgs, ... must import)."""
    return _RCLPY_TYPES


def marker_array(
    placed: Sequence[PlacedObstacle],
    header: Any,
    types: MessageTypes,
    camera: GroundCamera | None,
) -> Any:
    """A visualization_msgs/MarkerArray of one frame's obstacles, with `header` (the image's).

    First one DELETEALL marker (empty namespace: every marker of the display), so obstacles of
    the previous frame that vanished leave no ghosts; then, for each obstacle with a position,
    in `placed`'s order (largest first; ids 0, 1, ... in each namespace, per frame):
    - a CUBE in `anomaly_obstacles` standing on the ground at its nearest contact point,
      as wide as `width_m`, `box_height_m` high, BOX_DEPTH_M deep, its faces along the
      ground and the vertical of the pitched camera;
    - a TEXT_VIEW_FACING in `anomaly_labels` above it: distance and max score.
    Obstacles without a position (mounting or calibration unknown, contact above the horizon)
    get no marker: a marker in the image plane would show a place that is not known.
    `camera` is the GroundCamera they were placed with; None: no obstacle has a position.
    """
    markers = [_marker(types, header, "", 0, ARROW, DELETEALL)]
    if camera is not None:
        # Box axes: x = the camera's x (right), y = the world's down, z = forward along the
        # ground; the optical frame turned about its x axis by the pitch.
        half = camera.pitch_rad / 2
        orientation = (math.sin(half), 0.0, 0.0, math.cos(half))
        up, forward = -camera.down, camera.forward
        positioned = [p for p in placed if p.position is not None]
        for index, obstacle in enumerate(positioned):
            contact = np.asarray(obstacle.position, dtype=np.float64)
            width = max(float(obstacle.width_m or 0.0), MIN_BOX_HEIGHT_M)
            height = box_height_m(obstacle, camera)
            centre = contact + up * (height / 2) + forward * (BOX_DEPTH_M / 2)
            markers.append(
                _marker(types, header, OBSTACLES_NS, index, CUBE, ADD,
                        position=tuple(centre), orientation=orientation,
                        scale=(width, height, BOX_DEPTH_M), rgba=BOX_RGBA)
            )  # fmt: skip
            above = centre + up * (height / 2 + TEXT_HEIGHT_M)
            text = f"{obstacle.distance_m:.1f} m, score {obstacle.image.max_score:.2f}"
            markers.append(
                _marker(types, header, LABELS_NS, index, TEXT_VIEW_FACING, ADD,
                        position=tuple(above), scale=(0.0, 0.0, TEXT_HEIGHT_M),
                        rgba=TEXT_RGBA, text=text)
            )  # fmt: skip
    return _build(types, MARKER_ARRAY, {"markers": markers})


def box_height_m(obstacle: PlacedObstacle, camera: GroundCamera) -> float:
    """How high the obstacle reaches (m, at least MIN_BOX_HEIGHT_M): its box's top row seen on
    a vertical face at its contact point (the face the camera sees), on the column of the
    contact point."""
    if obstacle.position is None:
        return MIN_BOX_HEIGHT_M
    contact = np.asarray(obstacle.position, dtype=np.float64)
    u = camera.fx * contact[0] / contact[2] + camera.cx
    v = obstacle.image.box[1] - 0.5  # the top edge of the box's top row
    ray = np.array([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, 1.0])
    along = float(ray @ camera.forward)
    if along <= 1e-9:  # the ray points behind the face
        return MIN_BOX_HEIGHT_M
    top = ray * float(contact @ camera.forward) / along
    height = float((contact - top) @ camera.down)
    return height if math.isfinite(height) and height > MIN_BOX_HEIGHT_M else MIN_BOX_HEIGHT_M


def cloud_points(placed: Sequence[PlacedObstacle], max_points: int) -> np.ndarray:
    """The ground points of every obstacle as CLOUD_DTYPE records (score: the obstacle's max
    score), subsampled evenly over all of them to at most `max_points` (each obstacle keeps
    its share)."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    parts = [(p.ground_points, p.image.max_score) for p in placed if len(p.ground_points)]
    if not parts:
        return np.zeros(0, CLOUD_DTYPE)
    xyz = np.concatenate([points for points, _ in parts]).reshape(-1, 3)
    scores = np.concatenate([np.full(len(points), score) for points, score in parts])
    if len(xyz) > max_points:  # evenly spread indices, all distinct (the step exceeds 1)
        keep = np.round(np.linspace(0, len(xyz) - 1, max_points)).astype(np.int64)
        xyz, scores = xyz[keep], scores[keep]
    records = np.zeros(len(xyz), CLOUD_DTYPE)
    records["x"], records["y"], records["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    records["score"] = scores
    return records


def point_cloud(
    placed: Sequence[PlacedObstacle], header: Any, max_points: int, types: MessageTypes
) -> Any:
    """A sensor_msgs/PointCloud2 of `cloud_points` with `header` (the image's): one row of
    `width` points, fields x, y, z, score (float32, little endian, point_step 16), is_dense
    (no NaN: only points that meet the ground). No obstacle with a position: zero points."""
    records = cloud_points(placed, max_points)
    fields = [
        _build(types, POINT_FIELD, {"name": name, "offset": offset, "datatype": FLOAT32,
                                    "count": 1})
        for name, offset in CLOUD_FIELDS
    ]  # fmt: skip
    raw = records.view(np.uint8)
    rosbags = dataclasses.is_dataclass(types[POINT_CLOUD2])
    return _build(
        types,
        POINT_CLOUD2,
        {
            "header": header,
            "height": 1,
            "width": len(records),
            "fields": fields,
            "is_bigendian": False,
            "point_step": POINT_STEP,
            "row_step": POINT_STEP * len(records),
            "data": raw if rosbags else pixels_as_uint8_array(raw),
            "is_dense": True,
        },
    )


def _marker(
    types: MessageTypes,
    header: Any,
    ns: str,
    marker_id: int,
    kind: int,
    action: int,
    position: tuple[float, ...] = (0.0, 0.0, 0.0),
    orientation: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0),
    scale: tuple[float, ...] = (0.0, 0.0, 0.0),
    rgba: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0),
    text: str = "",
) -> Any:
    x, y, z = (float(v) for v in position)
    qx, qy, qz, qw = (float(v) for v in orientation)
    pose = _build(types, POSE, {
        "position": _build(types, POINT, {"x": x, "y": y, "z": z}),
        "orientation": _build(types, QUATERNION, {"x": qx, "y": qy, "z": qz, "w": qw}),
    })  # fmt: skip
    sx, sy, sz = (float(v) for v in scale)
    r, g, b, a = (float(v) for v in rgba)
    values = {
        "header": header,
        "ns": ns,
        "id": marker_id,
        "type": kind,
        "action": action,
        "pose": pose,
        "scale": _build(types, VECTOR3, {"x": sx, "y": sy, "z": sz}),
        "color": _build(types, COLOR, {"r": r, "g": g, "b": b, "a": a}),
        "text": text,
    }
    return _build(types, MARKER, values, _marker_defaults(types, header))


def _marker_defaults(types: MessageTypes, header: Any) -> dict[str, Callable[[], Any]]:
    """What a rosbags Marker needs beyond `_marker`'s fields (rclpy's defaults)."""
    empty = np.zeros(0, np.uint8)
    return {
        "lifetime": lambda: _build(types, DURATION, {"sec": 0, "nanosec": 0}),  # forever
        "frame_locked": lambda: False,
        "points": list,
        "colors": list,
        "texture_resource": str,
        "texture": lambda: _build(types, COMPRESSED_IMAGE,
                                  {"header": header, "format": "", "data": empty}),
        "uv_coordinates": list,
        "mesh_resource": str,
        "mesh_file": lambda: _build(types, MESH_FILE, {"filename": "", "data": empty}),
        "mesh_use_embedded_materials": lambda: False,
    }  # fmt: skip


def _build(
    types: MessageTypes,
    name: str,
    values: dict[str, Any],
    defaults: dict[str, Callable[[], Any]] | None = None,
) -> Any:
    """A message of type `name` with `values`. A rosbags dataclass gets every field (`values`,
    else `defaults`, for the fields this distro's type has); an rclpy message starts from its
    defaults and gets `values`."""
    cls = types[name]
    if dataclasses.is_dataclass(cls):
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]  # fmt: skip
        given = {
            field: values[field] if field in values else (defaults or {})[field]()
            for field in required
        }
        rosbags_type: Any = cls
        return rosbags_type(**given)
    msg = cls()
    for field, value in values.items():
        setattr(msg, field, value)
    return msg
