"""The rclpy node (a thin shell) and its ROS-free helpers: parameters, topic names, newest-frame
slots per camera and per-camera statistics for /diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dense_ood_ros.ros.node_config import NodeConfigError, ParamDocsError

if TYPE_CHECKING:
    from dense_ood_ros.ros.node import StartupError

__all__ = ["NodeConfigError", "ParamDocsError", "StartupError"]


def __getattr__(name: str) -> Any:
    """StartupError on first use: its module is the node's, which imports rclpy."""
    if name == "StartupError":
        from dense_ood_ros.ros.node import StartupError

        return StartupError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
