"""Launch the dense_ood node (and optionally RViz with the package's display config).

  ros2 launch dense_ood_ros dense_ood.launch.py model_path:=/models/camvid_nflowjs.onnx
  ros2 launch dense_ood_ros dense_ood.launch.py model_path:=M \
      image_topics:="['/cam_front/image_raw', '/cam_rear/image_raw']" use_rviz:=true

`params_file` (default: the package's config/dense_ood.yaml) gives every parameter; the
`model_path` and `image_topics` arguments, when set, override it. RViz shows the first camera's
outputs; where neither names a camera it shows /camera/image_raw's and the launch log says why.
The parts are in dense_ood_ros.ros.launch_parts, shared with replay.launch.py.
"""

from __future__ import annotations

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription

from dense_ood_ros.ros.launch_parts import PACKAGE, node_action, node_arguments, rviz_action


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription([*node_arguments(share), node_action(share), rviz_action(share)])
