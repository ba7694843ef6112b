"""The one ROS-free frame pipeline (frame -> engine -> masks) that the node, the replay, the bench
and the evaluation share, the rendering of its colour and overlay images, and the anomaly
obstacles cut out of its masks (`obstacles`) and placed on the ground (`ground`)."""

from dense_ood_ros.pipeline.frame_pipeline import FrameError
from dense_ood_ros.pipeline.ground import GroundGeometryError
from dense_ood_ros.pipeline.obstacles import ObstacleSettingsError

__all__ = ["FrameError", "GroundGeometryError", "ObstacleSettingsError"]
