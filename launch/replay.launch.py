"""Replay a recorded drive on the vehicle stack: `ros2 bag play BAG --clock` + the node on
simulated time (+ RViz), so the node's outputs carry the bag's stamps and can be recorded.

  ros2 launch dense_ood_ros replay.launch.py bag:=/drives/monday model_path:=M \
      image_topics:="['/cam_front/image_raw']" use_rviz:=true

The launch ends when the bag has played. `play_bag:=false` starts only the node (and RViz),
for playing the bag by other means. Offline, without ROS: `dense-ood replay` (README).
"""

from __future__ import annotations

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration

from dense_ood_ros.ros.launch_parts import PACKAGE, node_action, node_arguments, rviz_action


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
            *node_arguments(share),
            node_action(share, use_sim_time=True),
            play,
            RegisterEventHandler(
                OnProcessExit(target_action=play, on_exit=[EmitEvent(event=Shutdown())])
            ),
            rviz_action(share, use_sim_time=True),
        ]
    )
