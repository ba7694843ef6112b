"""Launch the dense_ood node (and optionally RViz with the package's display config).

  ros2 launch dense_ood_ros dense_ood.launch.py model_path:=/models/synthroad_nflowjs.onnx
  ros2 launch dense_ood_ros dense_ood.launch.py model_path:=M \
      image_topics:="['/cam_front/image_raw', '/cam_rear/image_raw']" use_rviz:=true

`params_file` (default: the package's config/dense_ood.yaml) gives every parameter; the
`model_path` and `image_topics` arguments, when set, override it.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = "dense_ood_ros"
EXECUTABLE = "dense_ood_node"


def _node(context, *args, **kwargs):
    """The node, with launch-argument overrides applied on top of params_file."""
    from dense_ood_ros.ros.launch_arguments import parameter_overrides

    overrides = parameter_overrides(
        LaunchConfiguration("model_path").perform(context),
        LaunchConfiguration("image_topics").perform(context),
    )
    return [
        Node(
            package=PACKAGE,
            executable=EXECUTABLE,
            name="dense_ood",
            output="screen",
            emulate_tty=True,
            parameters=[LaunchConfiguration("params_file").perform(context), overrides],
        )
    ]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription(
        [
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
            OpaqueFunction(function=_node),
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", os.path.join(share, "config", "dense_ood.rviz")],
                condition=IfCondition(LaunchConfiguration("use_rviz")),
            ),
        ]
    )
