"""Each camera's flat-ground geometry for the anomaly obstacles, ROS-free (CameraInfo is
duck-typed: `k`, `width`, `height`).

A camera's GroundCamera comes from its latest `<ns>/camera_info` (K of the camera's frames,
scaled to the outputs' size when they differ) and the configured mounting (camera_height_m,
camera_pitch_rad). Where it cannot be had (mounting unknown or bad, no CameraInfo yet, a
CameraInfo for another image size, zero focal lengths) the obstacles are published without
positions, and each reason is logged once per camera.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from dense_ood_ros.pipeline.ground import GroundCamera, GroundGeometryError
from dense_ood_ros.ros.camera_info import camera_info_topic
from dense_ood_ros.ros.node_config import NodeConfig, mounting_problem


class GroundCameras:
    """The GroundCamera of each frame, or None and why. `warn` gets one line per camera and
    reason, the first time that reason holds (the mounting's reason is `mounting`, for the
    caller to tell once at start)."""

    def __init__(self, config: NodeConfig, warn: Callable[[str], None]) -> None:
        self.height_m = config.camera_height_m
        self.pitch_rad = config.camera_pitch_rad
        #: why no camera can place obstacles (the mounting parameters), or None
        self.mounting: str | None = mounting_problem(config)
        self._warn = warn
        self._told: defaultdict[str, set[str]] = defaultdict(set)
        self._reasons: dict[str, str] = {}

    def camera(
        self,
        input_topic: str,
        info: Any,
        frame_hw: tuple[int, int] | None,
        out_hw: tuple[int, int],
    ) -> GroundCamera | None:
        """The ground geometry of one frame of `input_topic` whose outputs (and obstacles) are
        `out_hw` (height, width), from the camera's latest CameraInfo `info` (None: none yet).
        `frame_hw`: the camera frame's size, checked against the CameraInfo's; None where it
        is not known (a JPEG decoded at a reduced scale)."""
        try:
            camera = self._camera(input_topic, info, frame_hw, out_hw)
        except GroundGeometryError as exc:
            self._set_reason(input_topic, str(exc))
            return None
        self._set_reason(input_topic, "")
        return camera

    def reason(self, input_topic: str) -> str:
        """Why the last frame of `input_topic` had no positions ("" where it had; "n/a" before
        its first frame)."""
        if self.mounting is not None:
            return self.mounting
        return self._reasons.get(input_topic, "n/a")

    def _camera(
        self,
        input_topic: str,
        info: Any,
        frame_hw: tuple[int, int] | None,
        out_hw: tuple[int, int],
    ) -> GroundCamera | None:
        if self.mounting is not None or self.height_m is None:
            return None
        info_topic = camera_info_topic(input_topic)
        if info is None:
            raise GroundGeometryError(f"no CameraInfo on {info_topic} yet")
        try:
            camera = GroundCamera.from_k(
                info.k, info.width, info.height, self.height_m, self.pitch_rad
            )
        except GroundGeometryError as exc:
            raise GroundGeometryError(f"{info_topic}: {exc}") from exc
        if frame_hw is not None and (camera.height, camera.width) != tuple(frame_hw):
            raise GroundGeometryError(
                f"{info_topic} is for {camera.width}x{camera.height} images but the frames are "
                f"{frame_hw[1]}x{frame_hw[0]}"
            )
        height, width = out_hw
        if (camera.height, camera.width) != (height, width):
            camera = camera.scaled_to(width, height)
        return camera

    def _set_reason(self, input_topic: str, reason: str) -> None:
        self._reasons[input_topic] = reason
        if reason and reason not in self._told[input_topic]:
            self._told[input_topic].add(reason)
            self._warn(f"{input_topic}: anomaly obstacles published without positions: {reason}")
