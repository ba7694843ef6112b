"""The anomaly obstacles as ROS messages (pipeline/obstacle_messages), without a live node:
MarkerArray and PointCloud2 from rclpy's classes and from rosbags' typestores (Humble, Jazzy),
the cloud parsed back with numpy; and each camera's ground geometry (ros/ground_cameras)."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dense_ood_ros.pipeline.ground import GroundCamera, PlacedObstacle, place
from dense_ood_ros.pipeline.obstacle_messages import (
    BOX_DEPTH_M,
    CLOUD_DTYPE,
    LABELS_NS,
    OBSTACLES_NS,
    box_height_m,
    cloud_points,
    marker_array,
    point_cloud,
    rclpy_types,
)
from dense_ood_ros.pipeline.obstacles import ImageObstacle
from dense_ood_ros.ros.ground_cameras import GroundCameras
from dense_ood_ros.ros.node_config import parse_config

HEIGHT_M, PITCH = 1.4, math.radians(5.0)
ARROW, CUBE, TEXT_VIEW_FACING, ADD, DELETEALL = 0, 1, 9, 0, 3


def _camera() -> GroundCamera:
    return GroundCamera(400.0, 400.0, 319.5, 239.5, 640, 480, HEIGHT_M, PITCH)


def _pixel(camera: GroundCamera, forward: float, lateral: float, up: float) -> np.ndarray:
    """(u, v) of the world point `forward` m ahead along the ground, `lateral` m right and `up`
    m above the ground."""
    point = lateral * np.array([1.0, 0, 0]) + forward * camera.forward
    point = point + (HEIGHT_M - up) * camera.down
    return np.array([camera.fx * point[0] / point[2] + camera.cx,
                     camera.fy * point[1] / point[2] + camera.cy])  # fmt: skip


def _face(
    camera: GroundCamera, forward: float, lateral: float, width: float, height: float,
    score: float = 0.9,
) -> ImageObstacle:  # fmt: skip
    """The image obstacle of an upright rectangle (a box's front face) standing on the ground:
    its contact pixels along the bottom edge, its box around the projected corners."""
    bottom = [_pixel(camera, forward, lateral + dx, 0.0)
              for dx in np.linspace(-width / 2, width / 2, 40)]  # fmt: skip
    top = [_pixel(camera, forward, lateral + dx, height) for dx in (-width / 2, width / 2)]
    corners = np.array(bottom + top)
    x0, y0 = np.floor(corners.min(axis=0) + 0.5).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0) + 0.5).astype(int)
    return ImageObstacle(
        box=(int(x0), int(y0), int(x1), int(y1)),
        area_px=int((x1 - x0) * (y1 - y0)),
        max_score=score,
        mean_score=score - 0.1,
        stands_on="road",
        around=("road",),
        contact_uv=np.array(bottom),
    )


def _placed() -> list[PlacedObstacle]:
    camera = _camera()
    faces = [_face(camera, 8.0, 1.0, 1.2, 0.8), _face(camera, 15.0, -2.0, 0.6, 1.5, 0.7)]
    above = ImageObstacle((0, 0, 10, 10), 100, 0.8, 0.7, "", (), np.array([[5.0, 5.0]]))
    return [place(face, camera) for face in faces] + [place(above, camera)]


def _header(types: Any) -> Any:
    header_type = types["std_msgs/msg/Header"]
    time_type = types["builtin_interfaces/msg/Time"]
    return header_type(stamp=time_type(sec=1234, nanosec=5678), frame_id="front_optical")


def _points_of(cloud: Any) -> np.ndarray:
    """The cloud's points as CLOUD_DTYPE records, parsed from its fields and bytes."""
    assert (cloud.height, cloud.point_step, cloud.is_bigendian) == (1, 16, False)
    assert cloud.row_step == 16 * cloud.width and cloud.is_dense
    layout = [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields]
    assert layout == [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("score", 12, 7, 1)]
    data = np.frombuffer(bytes(cloud.data), dtype=np.uint8)
    assert len(data) == cloud.row_step
    return data.view(CLOUD_DTYPE)


def test_cloud_points_lie_on_the_ground_and_are_subsampled_evenly() -> None:
    placed = _placed()
    camera = _camera()
    counts = [len(p.ground_points) for p in placed]
    assert counts == [40, 40, 0]  # the third meets the ground nowhere (above the horizon)
    every = cloud_points(placed, 10_000)
    assert len(every) == 80
    np.testing.assert_allclose(every["score"], [0.9] * 40 + [0.7] * 40, rtol=1e-6)
    xyz = np.column_stack([every["x"], every["y"], every["z"]]).astype(np.float64)
    np.testing.assert_allclose(xyz @ camera.down, HEIGHT_M, atol=1e-5)  # the ground plane
    np.testing.assert_allclose(xyz, np.concatenate([p.ground_points for p in placed]), atol=1e-5)

    some = cloud_points(placed, 20)
    assert len(some) == 20
    assert set(some.tolist()) <= set(every.tolist())  # a subset, in order, spread evenly
    assert list(some["score"]).count(np.float32(0.9)) == 10  # each obstacle keeps its share
    assert cloud_points(placed[2:], 5).shape == (0,)
    with pytest.raises(ValueError, match="at least 1"):
        cloud_points(placed, 0)


def test_box_height_is_the_faces_height() -> None:
    camera = _camera()
    for forward, height in ((6.0, 0.5), (12.0, 1.8)):
        placed = place(_face(camera, forward, 0.5, 1.0, height), camera)
        assert box_height_m(placed, camera) == pytest.approx(height, rel=0.05)


def _check_markers(array: Any, placed: list[PlacedObstacle], header: Any) -> None:
    camera = _camera()
    markers = list(array.markers)
    first = markers[0]
    assert (first.action, first.ns) == (DELETEALL, "")  # every marker of the display goes
    positioned = [p for p in placed if p.position is not None]
    assert len(markers) == 1 + 2 * len(positioned)
    cubes = [m for m in markers if m.type == CUBE and m.action == ADD]
    texts = [m for m in markers if m.type == TEXT_VIEW_FACING]
    assert [(m.ns, m.id) for m in cubes] == [(OBSTACLES_NS, i) for i in range(len(positioned))]
    assert [(m.ns, m.id) for m in texts] == [(LABELS_NS, i) for i in range(len(positioned))]
    up, forward = -camera.down, camera.forward
    for cube, text, obstacle in zip(cubes, texts, positioned, strict=True):
        for marker in (cube, text):
            assert marker.header.frame_id == header.frame_id
            assert (marker.header.stamp.sec, marker.header.stamp.nanosec) == (1234, 5678)
        centre = np.array([cube.pose.position.x, cube.pose.position.y, cube.pose.position.z])
        width, height, depth = cube.scale.x, cube.scale.y, cube.scale.z
        assert width == pytest.approx(obstacle.width_m) and depth == BOX_DEPTH_M
        # the box stands on the ground, its front face at the contact point
        bottom_front = centre - up * height / 2 - forward * depth / 2
        np.testing.assert_allclose(bottom_front, obstacle.position, atol=1e-9)
        q = cube.pose.orientation
        assert (q.x, q.y, q.z, q.w) == pytest.approx(
            (math.sin(PITCH / 2), 0.0, 0.0, math.cos(PITCH / 2))
        )
        label = f"{obstacle.distance_m:.1f} m, score {obstacle.image.max_score:.2f}"
        assert text.text == label
        assert text.pose.position.y < cube.pose.position.y  # above it (y is down)


def test_rclpy_messages() -> None:
    pytest.importorskip("visualization_msgs.msg")
    types = rclpy_types()
    header = _header(types)
    placed = _placed()
    array = marker_array(placed, header, types, _camera())
    assert type(array).__name__ == "MarkerArray"
    _check_markers(array, placed, header)

    cloud = point_cloud(placed, header, 30, types)
    assert type(cloud).__name__ == "PointCloud2"
    assert cloud.header == header and cloud.width == 30
    np.testing.assert_array_equal(_points_of(cloud), cloud_points(placed, 30))

    # Nothing placed (no camera geometry): only the DELETEALL, and an empty cloud.
    unplaced = [place(p.image, None) for p in placed]
    assert [m.action for m in marker_array(unplaced, header, types, None).markers] == [DELETEALL]
    assert [m.action for m in marker_array(placed, header, types, None).markers] == [DELETEALL]
    empty = point_cloud(unplaced, header, 30, types)
    assert empty.width == 0 and len(_points_of(empty)) == 0


@pytest.mark.parametrize("store", ["ROS2_HUMBLE", "ROS2_JAZZY"])
def test_rosbags_messages_serialize_and_match_rclpys(store: str) -> None:
    typesys = pytest.importorskip("rosbags.typesys")
    typestore = typesys.get_typestore(getattr(typesys.Stores, store))
    types = typestore.types
    header = _header(types)
    placed = _placed()
    array = marker_array(placed, header, types, _camera())
    cloud = point_cloud(placed, header, 30, types)
    for msg, name in ((array, "visualization_msgs/msg/MarkerArray"),
                      (cloud, "sensor_msgs/msg/PointCloud2")):  # fmt: skip
        raw = typestore.serialize_cdr(msg, name)
        back = typestore.deserialize_cdr(raw, name)
        assert typestore.serialize_cdr(back, name) == raw
    _check_markers(typestore.deserialize_cdr(
        typestore.serialize_cdr(array, "visualization_msgs/msg/MarkerArray"),
        "visualization_msgs/msg/MarkerArray"), placed, header)  # fmt: skip
    np.testing.assert_array_equal(_points_of(cloud), cloud_points(placed, 30))


# --- each camera's ground geometry ------------------------------------------------------------


def _info(width: int = 640, height: int = 480, fx: float = 400.0) -> SimpleNamespace:
    return SimpleNamespace(k=[fx, 0.0, 319.5, 0.0, fx, 239.5, 0.0, 0.0, 1.0],
                           width=width, height=height)  # fmt: skip


def _cameras(**values: Any) -> tuple[GroundCameras, list[str]]:
    said: list[str] = []
    config = parse_config({"model_path": "m.onnx", **values})
    return GroundCameras(config, said.append), said


def test_ground_camera_from_camera_info_scaled_to_the_outputs() -> None:
    cameras, said = _cameras(camera_height_m=HEIGHT_M, camera_pitch_rad=PITCH)
    assert cameras.mounting is None and cameras.reason("/cam/image_raw") == "n/a"
    same = cameras.camera("/cam/image_raw", _info(), (480, 640), (480, 640))
    assert same == _camera()
    assert cameras.reason("/cam/image_raw") == ""
    small = cameras.camera("/cam/image_raw", _info(), (480, 640), (64, 96))  # output_size model
    assert small == _camera().scaled_to(96, 64)
    unknown_frame = cameras.camera("/cam/image_raw", _info(), None, (64, 96))  # reduced JPEG
    assert unknown_frame == small
    assert said == []


def test_ground_camera_reasons_are_told_once_per_camera() -> None:
    cameras, said = _cameras(camera_height_m=HEIGHT_M)
    topic = "/cam_front/image_raw"
    for _ in range(3):
        assert cameras.camera(topic, None, (480, 640), (480, 640)) is None
    assert said == [f"{topic}: anomaly obstacles published without positions: no CameraInfo "
                    "on /cam_front/camera_info yet"]  # fmt: skip
    assert cameras.reason(topic) == "no CameraInfo on /cam_front/camera_info yet"
    said.clear()
    for _ in range(2):
        assert cameras.camera(topic, _info(1280, 960), (480, 640), (480, 640)) is None
        assert cameras.camera(topic, _info(fx=0.0), (480, 640), (480, 640)) is None
    assert len(said) == 2
    assert said[0].endswith("/cam_front/camera_info is for 1280x960 images but the frames are "
                            "640x480")  # fmt: skip
    assert "/cam_front/camera_info: focal lengths must be > 0" in said[1]
    assert cameras.camera("/cam_rear/image_raw", None, None, (480, 640)) is None
    assert len(said) == 3  # another camera has its own
    assert cameras.camera(topic, _info(), (480, 640), (480, 640)) is not None
    assert cameras.reason(topic) == ""


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({}, "'camera_height_m' is .nan (unknown)"),
        ({"camera_height_m": -1.0}, "'camera_height_m' is -1: it must be > 0 m"),
        ({"camera_height_m": 1.5, "camera_pitch_rad": 1.6}, "'camera_pitch_rad' is 1.6"),
    ],
)
def test_no_positions_without_a_mounting(values: dict, reason: str) -> None:
    cameras, said = _cameras(**values)
    assert cameras.mounting is not None and reason in cameras.mounting
    assert cameras.camera("/cam/image_raw", _info(), (480, 640), (480, 640)) is None
    assert reason in cameras.reason("/cam/image_raw")
    assert said == []  # the node says it once at start, for every camera
