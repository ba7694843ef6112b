"""Anomaly obstacles, ROS-free: components of the mask, their ground contact, and the flat-ground
geometry against a hand-computed case (a box rendered through a known pinhole)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from dense_ood_ros.pipeline.ground import GroundCamera, GroundGeometryError, place
from dense_ood_ros.pipeline.obstacles import (
    ObstacleSettings,
    ObstacleSettingsError,
    extract_obstacles,
)

CLASSES = ("road", "pavement", "sky")
CAMERA_HW = (480, 640)
MODEL_HW = (240, 320)
HEIGHT_M, PITCH = 1.5, math.radians(6.0)


def _camera() -> GroundCamera:
    return GroundCamera(500.0, 500.0, 319.5, 239.5, 640, 480, HEIGHT_M, PITCH)


def _project(camera: GroundCamera, forward: float, lateral: float, up: float) -> np.ndarray:
    """Pixel (u, v) of a world point `forward` m ahead on the ground, `lateral` m right and
    `up` m above the ground (the hand-computed pinhole)."""
    point = lateral * np.array([1.0, 0, 0]) + forward * camera.forward
    point = point + (HEIGHT_M - up) * camera.down
    return np.array([camera.fx * point[0] / point[2] + camera.cx,
                     camera.fy * point[1] / point[2] + camera.cy])  # fmt: skip


def _box_frame(forward: float, lateral: float, width: float, height: float) -> tuple:
    """(mask, score, semantic) at the model's resolution with the front face of a box standing
    on the road `forward` m ahead, rendered through the camera."""
    camera = _camera()
    corners = [_project(camera, forward, lateral + dx, up)
               for dx, up in ((-width / 2, 0), (width / 2, 0), (width / 2, height),
                              (-width / 2, height))]  # fmt: skip
    # supersampled 8x, then a model pixel is anomalous where the face covers half of it
    fine = 8 * MODEL_HW[0] / CAMERA_HW[0]
    polygon = np.array([(c + 0.5) * fine - 0.5 for c in corners])
    cover = np.zeros((MODEL_HW[0] * 8, MODEL_HW[1] * 8), np.float32)
    cv2.fillConvexPoly(cover, np.round(polygon * 16).astype(np.int32), 1.0, shift=4)
    coverage = cv2.resize(cover, MODEL_HW[::-1], interpolation=cv2.INTER_AREA)
    mask = np.where(coverage >= 0.5, 255, 0).astype(np.uint8)
    score = np.where(mask > 0, 0.9, 0.1).astype(np.float32)
    semantic = np.zeros(MODEL_HW, np.uint8)  # road everywhere
    semantic[:60] = 2  # sky at the top
    return mask, score, semantic


def test_a_box_on_the_road_is_placed_within_two_percent() -> None:
    forward, lateral, width = 8.0, 1.0, 1.2
    mask, score, semantic = _box_frame(forward, lateral, width, 0.8)
    (obstacle,) = extract_obstacles(mask, score, semantic, CLASSES, CAMERA_HW, ObstacleSettings())
    placed = place(obstacle, _camera())
    expected = math.hypot(forward, lateral)
    assert placed.distance_m == pytest.approx(expected, rel=0.02)
    assert placed.lateral_m == pytest.approx(lateral, abs=0.05)
    assert placed.width_m == pytest.approx(width, rel=0.1)
    assert placed.position is not None and placed.position[2] > 0
    assert obstacle.stands_on == "road" and obstacle.max_score == pytest.approx(0.9)
    x0, y0, x1, y1 = obstacle.box
    assert 0 <= x0 < x1 <= CAMERA_HW[1] and 0 <= y0 < y1 <= CAMERA_HW[0]
    print(f"box at {expected:.3f} m placed at {placed.distance_m:.3f} m "
          f"({(placed.distance_m / expected - 1) * 100:+.2f} %)")  # fmt: skip


# Beyond ~15 m one model row (two camera rows here) spans more than 2 % of the distance.
@pytest.mark.parametrize("forward", [4.0, 12.0, 15.0])
def test_distance_error_stays_within_two_percent_over_distances(forward: float) -> None:
    mask, score, semantic = _box_frame(forward, 0.0, 1.0, 0.6)
    (obstacle,) = extract_obstacles(mask, score, semantic, CLASSES, CAMERA_HW, ObstacleSettings())
    assert place(obstacle, _camera()).distance_m == pytest.approx(forward, rel=0.02)


def test_an_obstacle_above_the_horizon_has_no_position() -> None:
    mask = np.zeros(MODEL_HW, np.uint8)
    mask[10:30, 100:140] = 255  # high in the sky: its rays never meet the ground ahead
    score = np.where(mask > 0, 0.8, 0.0).astype(np.float32)
    semantic = np.full(MODEL_HW, 2, np.uint8)
    (obstacle,) = extract_obstacles(mask, score, semantic, CLASSES, CAMERA_HW, ObstacleSettings())
    placed = place(obstacle, _camera())
    assert placed.position is None and placed.distance_m is None
    assert len(placed.ground_points) == 0


def test_without_a_camera_obstacles_keep_their_image_figures() -> None:
    mask, score, semantic = _box_frame(8.0, 0.0, 1.0, 0.6)
    (obstacle,) = extract_obstacles(mask, score, semantic, CLASSES, CAMERA_HW, ObstacleSettings())
    placed = place(obstacle, None)
    assert placed.position is None and obstacle.area_px > 0


def test_thousands_of_specks_give_bounded_output() -> None:
    rng = np.random.default_rng(0)
    mask = np.where(rng.random(MODEL_HW) < 0.3, 255, 0).astype(np.uint8)  # salt noise
    mask[150:200, 100:180] = 255  # and one real object
    mask[20:40, 10:40] = 255
    score = rng.random(MODEL_HW).astype(np.float32)
    semantic = np.zeros(MODEL_HW, np.uint8)
    settings = ObstacleSettings(min_pixels=64, max_count=1)
    obstacles = extract_obstacles(mask, score, semantic, CLASSES, CAMERA_HW, settings)
    assert len(obstacles) == 1  # the largest only
    x0, y0, x1, y1 = obstacles[0].box
    assert (x1 - x0) >= 150 and (y1 - y0) >= 90  # the 80x50 object, doubled to camera pixels


def test_small_components_are_dropped() -> None:
    mask = np.zeros(MODEL_HW, np.uint8)
    mask[100:105, 100:105] = 255  # 25 px
    mask[150:170, 150:170] = 255  # 400 px
    score = np.where(mask > 0, 1.0, 0.0).astype(np.float32)
    semantic = np.zeros(MODEL_HW, np.uint8)
    obstacles = extract_obstacles(mask, score, semantic, CLASSES, CAMERA_HW, ObstacleSettings())
    assert [o.area_px for o in obstacles] == [400 * 4]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fx": 0.0}, "focal lengths"),
        ({"height_m": -1.0}, "camera height"),
        ({"pitch_rad": math.radians(95)}, r"within \+-90 degrees"),
        ({"width": 0}, "image size"),
    ],
)
def test_bad_geometry_is_one_clear_error(change: dict, message: str) -> None:
    values = {"fx": 500.0, "fy": 500.0, "cx": 320.0, "cy": 240.0, "width": 640, "height": 480,
              "height_m": 1.5, "pitch_rad": 0.1, **change}  # fmt: skip
    with pytest.raises(GroundGeometryError, match=message):
        GroundCamera(**values)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ObstacleSettingsError):
        ObstacleSettings(min_pixels=0)


def test_camera_from_k_and_scaled() -> None:
    camera = GroundCamera.from_k([500, 0, 319.5, 0, 500, 239.5, 0, 0, 1], 640, 480, 1.5, 0.1)
    half = camera.scaled_to(320, 240)
    assert (half.fx, half.cx, half.cy) == (250.0, 159.5, 119.5)
