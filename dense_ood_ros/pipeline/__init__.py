"""The one ROS-free frame pipeline (frame -> engine -> masks) that the node, the replay, the bench
and the evaluation share, and the rendering of its colour and overlay images."""

from dense_ood_ros.pipeline.frame_pipeline import FrameError

__all__ = ["FrameError"]
