"""The parts both launch files are made of (launch and launch_ros are imported when called,
so this module imports without a ROS install).

`model_path` and `image_topics` arguments override the parameter file only when given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dense_ood_ros.ros.node_config import SPECS
from dense_ood_ros.topics import NODE_NAME

PACKAGE = "dense_ood_ros"
EXECUTABLE = "dense_ood_node"
LARGE_FRAMES_PROFILE = "fastdds_large_frames.xml"
#: Fast DDS 2.x (Humble, Jazzy) and 3.x read their profile file from these; a user's wins.
PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")


def parameter_overrides(model_path: str, image_topics: str) -> dict[str, Any]:
    """Node parameters from the performed launch arguments ('' = not given).

    `image_topics` is YAML: a list ("['/cam/image_raw']") or one topic. Whatever it holds is
    handed to the node as a list of strings, so the node's own check reports a bad value (an
    empty list travels as [''], which launch_ros can type and the node reads as empty).
    """
    import yaml

    overrides: dict[str, Any] = {}
    if model_path:
        overrides["model_path"] = model_path
    if image_topics:
        try:
            topics = yaml.safe_load(image_topics)
        except yaml.YAMLError:
            topics = image_topics
        listed = topics if isinstance(topics, list) else [topics]
        overrides["image_topics"] = [str(topic) for topic in listed] or [""]
    return overrides


#: The camera RViz shows when neither the launch arguments nor params_file name one: the
#: parameter table's default.
DEFAULT_CAMERA: str = SPECS["image_topics"].default[0]


def first_camera(params_file: str, overrides: dict[str, Any]) -> tuple[str, str | None]:
    """The first camera topic the node will serve (the override, else the parameter file's),
    and None; or DEFAULT_CAMERA and why neither names one."""
    import yaml

    topics = overrides.get("image_topics")
    why = "the image_topics argument is empty"
    if topics is None:
        try:
            content = yaml.safe_load(Path(params_file).read_text()) or {}
            topics = content.get("/**", {}).get("ros__parameters", {}).get("image_topics")
            why = f"{params_file} names no camera in /**: ros__parameters: image_topics"
        except (OSError, yaml.YAMLError, AttributeError) as exc:
            topics = None
            why = f"{params_file} is unreadable ({type(exc).__name__})"
    if isinstance(topics, list) and topics and topics[0]:
        return str(topics[0]), None
    return DEFAULT_CAMERA, why


def rviz_config_for(camera: str, shipped: str) -> str:
    """The shipped RViz config (made for /camera/image_raw) with its topics moved to `camera`'s
    output namespace."""
    from dense_ood_ros.topics import OUTPUT_DIR, output_namespace

    return shipped.replace(f"/camera/{OUTPUT_DIR}/", f"{output_namespace(camera)}/")


def node_arguments(share: str) -> list[Any]:
    """model_path, image_topics, params_file, use_rviz and large_frames."""
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
        DeclareLaunchArgument(
            "large_frames",
            default_value="false",
            description="Run the node with config/fastdds_large_frames.xml (a 100 MB Fast DDS "
            "shared-memory segment for raw frames above ~0.5 MB; the camera driver needs it "
            "too, see docs/node.md).",
        ),
    ]


def node_action(share: str, use_sim_time: bool = False) -> Any:
    """An OpaqueFunction that starts the node with the launch-argument overrides applied on
    top of params_file (on the bag's clock with `use_sim_time`). A params_file that does not
    exist stops the launch before anything starts; a node that exits with an error ends the
    launch with a non-zero status."""
    from launch.actions import OpaqueFunction, RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def start(context: Any, *args: Any, **kwargs: Any) -> list[Any]:
        params_file = LaunchConfiguration("params_file").perform(context)
        if not Path(params_file).is_file():
            raise RuntimeError(f"params_file {params_file} does not exist")
        overrides = _overrides(context)
        if use_sim_time:
            overrides["use_sim_time"] = True
        env = {}
        if LaunchConfiguration("large_frames").perform(context).lower() in ("true", "1"):
            profile = os.path.join(share, "config", LARGE_FRAMES_PROFILE)
            env = {name: os.environ.get(name, profile) for name in PROFILE_VARIABLES}
        node = Node(
            package=PACKAGE,
            executable=EXECUTABLE,
            name=NODE_NAME,
            output="screen",
            emulate_tty=True,
            parameters=[params_file, overrides],
            additional_env=env,
        )
        return [node, RegisterEventHandler(OnProcessExit(target_action=node, on_exit=_failed))]

    return OpaqueFunction(function=start)


def _overrides(context: Any) -> dict[str, Any]:
    from launch.substitutions import LaunchConfiguration

    return parameter_overrides(
        LaunchConfiguration("model_path").perform(context),
        LaunchConfiguration("image_topics").perform(context),
    )


def _failed(event: Any, context: Any) -> None:
    """Launch's own Shutdown ends with status 0; an exception ends it with 1 and one line."""
    if event.returncode != 0:
        raise RuntimeError(f"the dense_ood node exited with status {event.returncode}")


def rviz_action(share: str, use_sim_time: bool = False) -> Any:
    """RViz with config/dense_ood.rviz moved to the first camera, when use_rviz is true; where
    rviz2 is not installed, a warning, and the node goes on serving."""
    import shutil
    import tempfile

    from launch.actions import LogInfo, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def start(context: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if LaunchConfiguration("use_rviz").perform(context).lower() not in ("true", "1"):
            return []
        if shutil.which("rviz2") is None and not _has_package("rviz2"):
            return [LogInfo(msg="[WARN] rviz2 is not installed: running without RViz")]
        params_file = LaunchConfiguration("params_file").perform(context)
        camera, why_default = first_camera(params_file, _overrides(context))
        shipped = Path(share, "config", "dense_ood.rviz").read_text()
        with tempfile.NamedTemporaryFile("w", suffix=".rviz", delete=False) as config:
            config.write(rviz_config_for(camera, shipped))
        notes = []
        if why_default is not None:
            notes = [LogInfo(msg=f"[WARN] RViz shows the default camera {camera}: {why_default}")]
        return [
            *notes,
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", config.name],
                parameters=[{"use_sim_time": use_sim_time}],
            ),
        ]

    return OpaqueFunction(function=start)


def _has_package(name: str) -> bool:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix(name)
    except PackageNotFoundError:
        return False
    return True
