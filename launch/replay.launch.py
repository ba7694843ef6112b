"""Replay a recorded drive on the vehicle stack: `ros2 bag play BAG --clock` + the node on
simulated time (+ RViz), so the node's outputs carry the bag's stamps and can be recorded.

  ros2 launch dense_ood_ros replay.launch.py bag:=/drives/monday model_path:=M \
      image_topics:="['/cam_front/image_raw']" use_rviz:=true

The launch ends when the bag has played. `play_bag:=false` starts only the node (and RViz),
for playing the bag by other means. Offline, without ROS: `dense-ood replay` (README).
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = "dense_ood_ros"
EXECUTABLE = "dense_ood_node"


def _node(context, *args, **kwargs):
    """The node on the bag's clock, with launch-argument overrides on top of params_file."""
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
            parameters=[
                LaunchConfiguration("params_file").perform(context),
                {**overrides, "use_sim_time": True},
            ],
        )
    ]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    play = ExecuteProcess(
        cmd=[
            "ros2",
            "bag",
            "play",
            LaunchConfiguration("bag"),
            "--clock",
            "--rate",
            LaunchConfiguration("rate"),
        ],
        name="bag_play",
        output="screen",
        condition=IfCondition(LaunchConfiguration("play_bag")),
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("bag", description="The rosbag2 folder to play."),
            DeclareLaunchArgument(
                "rate", default_value="1.0", description="Playback rate (ros2 bag play --rate)."
            ),
            DeclareLaunchArgument(
                "play_bag", default_value="true", description="Start `ros2 bag play`."
            ),
            DeclareLaunchArgument(
                "model_path",
                default_value="",
                description="Contract-1 model (.onnx); overrides params_file.",
            ),
            DeclareLaunchArgument(
                "image_topics",
                default_value="",
                description="Camera topics as a YAML list; overrides params_file.",
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "dense_ood.yaml"),
                description="Parameter file of the node.",
            ),
            DeclareLaunchArgument(
                "use_rviz", default_value="false", description="Also start RViz."
            ),
            OpaqueFunction(function=_node),
            play,
            RegisterEventHandler(
                OnProcessExit(target_action=play, on_exit=[EmitEvent(event=Shutdown())])
            ),
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", os.path.join(share, "config", "dense_ood.rviz")],
                parameters=[{"use_sim_time": True}],
                condition=IfCondition(LaunchConfiguration("use_rviz")),
            ),
        ]
    )
