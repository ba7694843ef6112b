"""Where obstacles stand: back-projection of image points onto a flat ground plane through a
pinhole camera mounted `height_m` above the ground and pitched down by `pitch_rad`, ROS-free.

Points are in the camera's optical frame (x right, y down, z forward, metres), as ROS's
`<camera>_optical_frame` and sensor_msgs/CameraInfo use it. A ray that does not meet the
ground in front of the camera (at or above the horizon) has no ground point: NaN, never a
negative distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.pipeline.obstacles import ImageObstacle


class GroundGeometryError(DenseOodError, ValueError):
    """Camera intrinsics or mounting that cannot place anything on the ground."""


@dataclass(frozen=True)
class GroundCamera:
    """A pinhole camera (intrinsics in pixels of a `width` x `height` image) above flat ground."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    height_m: float  # optical centre above the ground
    pitch_rad: float  # downward tilt of the optical axis; 0 = level

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0 and math.isfinite(self.fx * self.fy)):
            raise GroundGeometryError(f"focal lengths must be > 0, got fx {self.fx} fy {self.fy}")
        if not (math.isfinite(self.cx) and math.isfinite(self.cy)):
            raise GroundGeometryError(f"principal point must be finite, got {self.cx}, {self.cy}")
        if self.width <= 0 or self.height <= 0:
            raise GroundGeometryError(f"image size must be > 0, got {self.width}x{self.height}")
        if not (self.height_m > 0 and math.isfinite(self.height_m)):
            raise GroundGeometryError(f"camera height must be > 0 m, got {self.height_m}")
        if not abs(self.pitch_rad) < math.pi / 2:
            raise GroundGeometryError(
                f"camera pitch must be within +-90 degrees, got {math.degrees(self.pitch_rad):g}"
            )

    @classmethod
    def from_k(
        cls, k: list[float] | tuple[float, ...] | np.ndarray, width: int, height: int,
        height_m: float, pitch_rad: float,
    ) -> GroundCamera:  # fmt: skip
        """From CameraInfo's row-major 3x3 `k` and its image size."""
        values = [float(v) for v in np.asarray(k, dtype=np.float64).ravel()]
        if len(values) != 9:
            raise GroundGeometryError(f"K must have 9 values, got {len(values)}")
        return cls(values[0], values[4], values[2], values[5], int(width), int(height),
                   float(height_m), float(pitch_rad))  # fmt: skip

    def scaled_to(self, width: int, height: int) -> GroundCamera:
        """The same camera for an image resized to `width` x `height`."""
        sx, sy = width / self.width, height / self.height
        return GroundCamera(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5,
                            (self.cy + 0.5) * sy - 0.5, width, height, self.height_m,
                            self.pitch_rad)  # fmt: skip

    @property
    def down(self) -> np.ndarray:
        """The world's down direction in the optical frame."""
        return np.array([0.0, math.cos(self.pitch_rad), math.sin(self.pitch_rad)])

    @property
    def forward(self) -> np.ndarray:
        """The horizontal forward direction (along the ground) in the optical frame."""
        return np.array([0.0, -math.sin(self.pitch_rad), math.cos(self.pitch_rad)])

    def ground_points(self, uv: np.ndarray) -> np.ndarray:
        """float64 [K, 3] optical-frame points where the rays of pixels `uv` [K, 2] meet the
        ground; rows of NaN for rays at or above the horizon."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        rays = np.column_stack(
            [(uv[:, 0] - self.cx) / self.fx, (uv[:, 1] - self.cy) / self.fy, np.ones(len(uv))]
        )
        along_down = rays @ self.down
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(along_down > 1e-9, self.height_m / along_down, np.nan)
        return rays * t[:, None]


@dataclass(frozen=True)
class PlacedObstacle:
    """An obstacle with its place on the ground, where the camera's geometry is known."""

    image: ImageObstacle
    position: tuple[float, float, float] | None  # ground contact, optical frame (m)
    distance_m: float | None  # along the ground, from the point below the camera
    lateral_m: float | None  # to the right of the optical axis (m)
    width_m: float | None  # its pixel span at the depth of its nearest contact point
    ground_points: np.ndarray  # float64 [K, 3], optical frame; only points that meet the ground


def place(obstacle: ImageObstacle, camera: GroundCamera | None) -> PlacedObstacle:
    """Put `obstacle` on the ground: its nearest contact point (the lowest pixel row, the centre
    column of that row), distance, lateral offset and width. No camera, or no contact point
    below the horizon: no position."""
    if camera is None or len(obstacle.contact_uv) == 0:
        return PlacedObstacle(obstacle, None, None, None, None, np.empty((0, 3)))
    points = camera.ground_points(obstacle.contact_uv)
    seen = np.isfinite(points[:, 2])
    if not seen.any():
        return PlacedObstacle(obstacle, None, None, None, None, np.empty((0, 3)))
    uv = obstacle.contact_uv[seen]
    bottom = uv[:, 1] >= uv[:, 1].max() - 0.5  # the lowest row of contact
    centre = np.array([[float(np.median(uv[bottom, 0])), float(uv[:, 1].max())]])
    position = camera.ground_points(centre)[0]
    ground = points[seen]
    span_px = float(uv[:, 0].max() - uv[:, 0].min()) + 1.0  # pixel centres, plus one pixel
    return PlacedObstacle(
        image=obstacle,
        position=(float(position[0]), float(position[1]), float(position[2])),
        distance_m=float(np.hypot(position @ camera.forward, position[0])),
        lateral_m=float(position[0]),
        width_m=span_px * float(position[2]) / camera.fx,  # its pixel span at its depth
        ground_points=ground,
    )
