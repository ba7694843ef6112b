"""dense_ood_ros: anomaly-aware dense segmentation for ROS 2 camera streams (runtime, no torch)."""

__version__ = "0.1.0"
