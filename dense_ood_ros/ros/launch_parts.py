"""The parts both launch files are made of (launch and launch_ros are imported when called,
so this module imports without a ROS install).

`model_path` and `image_topics` arguments override the parameter file only when given.
"""

from __future__ import annotations

import os
from typing import Any

PACKAGE = "dense_ood_ros"
EXECUTABLE = "dense_ood_node"


def parameter_overrides(model_path: str, image_topics: str) -> dict[str, Any]:
    """Node parameters from the performed launch arguments ('' = not given).

    `image_topics` is YAML: a list ("['/cam/image_raw']") or one topic.
    """
    import yaml

    overrides: dict[str, Any] = {}
    if model_path:
        overrides["model_path"] = model_path
    if image_topics:
        topics = yaml.safe_load(image_topics)
        overrides["image_topics"] = [topics] if isinstance(topics, str) else list(topics)
    return overrides


def node_arguments(share: str) -> list[Any]:
    """model_path, image_topics, params_file and use_rviz."""
    from launch.actions import DeclareLaunchArgument

    return [
        DeclareLaunchArgument(
            "model_path",
            default_value="",
            description="Contract-1 model (.onnx); overrides params_file.",
        ),
        DeclareLaunchArgument(
            "image_topics",
            default_value="",
            description="Camera topics as a YAML list, e.g. \"['/cam/image_raw']\"; "
            "overrides params_file.",
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=os.path.join(share, "config", "dense_ood.yaml"),
            description="Parameter file of the node.",
        ),
        DeclareLaunchArgument(
            "use_rviz",
            default_value="false",
            description="Also start RViz with config/dense_ood.rviz.",
        ),
    ]


def node_action(use_sim_time: bool = False) -> Any:
    """An OpaqueFunction that starts the node with the launch-argument overrides applied on
    top of params_file (and on the bag's clock with `use_sim_time`)."""
    from launch.actions import OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def start(context: Any, *args: Any, **kwargs: Any) -> list[Any]:
        overrides = parameter_overrides(
            LaunchConfiguration("model_path").perform(context),
            LaunchConfiguration("image_topics").perform(context),
        )
        if use_sim_time:
            overrides["use_sim_time"] = True
        params_file = LaunchConfiguration("params_file").perform(context)
        return [
            Node(
                package=PACKAGE,
                executable=EXECUTABLE,
                name="dense_ood",
                output="screen",
                emulate_tty=True,
                parameters=[params_file, overrides],
            )
        ]

    return OpaqueFunction(function=start)


def rviz_action(share: str, use_sim_time: bool = False) -> Any:
    """RViz with config/dense_ood.rviz, when use_rviz is true."""
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    return Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", os.path.join(share, "config", "dense_ood.rviz")],
        parameters=[{"use_sim_time": use_sim_time}],
        condition=IfCondition(LaunchConfiguration("use_rviz")),
    )
