"""The launch files through the real `ros2 launch` (the Jazzy sources of ../shared/ros2cli,
installed into the venv by `make`): skipped where no `ros2` command exists.

`ros2 bag` (rosbag2) and rviz2 are not installable here, so the replay launch runs with
`play_bag:=false`: what is checked is the node part, on simulated time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from node_harness import colcon_style_install, pick_domain_id

ROS2 = shutil.which("ros2", path=str(Path(sys.executable).parent)) or shutil.which("ros2")
pytestmark = [
    pytest.mark.ros,
    pytest.mark.skipif(ROS2 is None, reason="no ros2 command line (see ../shared/ros2cli)"),
]


@pytest.fixture(scope="module")
def ros_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment in which `ros2 launch dense_ood_ros ...` finds the installed package."""
    prefix = colcon_style_install(tmp_path_factory.mktemp("colcon"))
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = dict(os.environ)
    env.update(
        AMENT_PREFIX_PATH=os.pathsep.join([str(prefix), sys.prefix]),
        PYTHONPATH=os.pathsep.join([str(site / "site-packages"), env.get("PYTHONPATH", "")]),
        ROS_DOMAIN_ID=str(pick_domain_id(7)),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_LOG_DIR=str(tmp_path_factory.mktemp("ros_log")),
    )
    return env


class Launch:
    """`ros2 launch ...` in its own process group, output in a file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._handle = log.open("w")
        self.process = subprocess.Popen(
            [ROS2, "launch", "dense_ood_ros", *args],
            env=env, stdout=self._handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._handle.close()

    def interrupt(self) -> int:
        """Ctrl-C in a terminal: SIGINT to the whole process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.wait(10)


def _param(env: dict[str, str], name: str, attempts: int = 5) -> str:
    """`ros2 param get /dense_ood NAME`'s answer; retried while discovery has not found the
    node yet (an empty answer: a loaded machine can take longer than one spin)."""
    for _ in range(attempts):
        done = subprocess.run(
            [ROS2, "param", "get", "--no-daemon", "--spin-time", "3", "/dense_ood", name],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.stdout.strip():
            return done.stdout.strip()
    return ""


def _wait_param(launch: Launch, env: dict[str, str], name: str, expected: str) -> str:
    """The node's parameter once it contains `expected` (the launch must stay up)."""
    deadline = time.monotonic() + 90
    value = ""
    while time.monotonic() < deadline and expected not in value:
        assert launch.process.poll() is None, launch.output()
        value = _param(env, name)
    return value


def test_replay_launch_starts_the_node_on_simulated_time(
    ros_env: dict[str, str], tiny_model: Path, tmp_path: Path
) -> None:
    launch = Launch(ros_env, tmp_path / "launch.log", "replay.launch.py",
                    f"bag:={tmp_path / 'drive'}", "play_bag:=false", f"model_path:={tiny_model}",
                    "image_topics:=['/cam_front/image_raw']")  # fmt: skip
    try:
        value = _wait_param(launch, ros_env, "use_sim_time", "True")
        assert value == "Boolean value is: True", launch.output()
        assert _param(ros_env, "model_path") == f"String value is: {tiny_model}"
        assert "/cam_front/image_raw" in _param(ros_env, "image_topics")
    finally:
        code = launch.interrupt()
    assert code == 0, launch.output()


@pytest.mark.parametrize(
    ("launch_file", "arguments"),
    [
        (
            "dense_ood.launch.py",
            ["model_path", "image_topics", "params_file", "use_rviz", "large_frames"],
        ),
        (
            "replay.launch.py",
            [
                "bag",
                "rate",
                "play_bag",
                "model_path",
                "image_topics",
                "params_file",
                "use_rviz",
                "large_frames",
            ],
        ),
    ],
)
def test_launch_files_declare_their_arguments(
    ros_env: dict[str, str], launch_file: str, arguments: list[str]
) -> None:
    done = subprocess.run(
        [ROS2, "launch", "dense_ood_ros", launch_file, "--show-args"],
        env=ros_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = [line.strip().strip("'").rstrip(":").strip("'") for line in done.stdout.splitlines()
             if line.startswith("    '")]  # fmt: skip
    assert shown == arguments, done.stdout


def test_live_launch_serves_two_cameras_with_the_overrides(
    ros_env: dict[str, str], tiny_model: Path, tmp_path: Path
) -> None:
    topics = "['/cam_front/image_raw', '/cam_rear/image_raw']"
    launch = Launch(ros_env, tmp_path / "launch.log", "dense_ood.launch.py",
                    f"model_path:={tiny_model}", f"image_topics:={topics}")  # fmt: skip
    try:
        value = _wait_param(launch, ros_env, "image_topics", "cam_rear")
        assert "/cam_front/image_raw" in value and "/cam_rear/image_raw" in value
        assert _param(ros_env, "use_sim_time") == "Boolean value is: False"
    finally:
        code = launch.interrupt()
    assert code == 0, launch.output()


def _wait_serving(launch: Launch, env: dict[str, str]) -> None:
    _wait_param(launch, env, "model_path", "String value is:")


def _node_processes() -> list[str]:
    done = subprocess.run(["pgrep", "-af", "dense_ood_node"], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if "pgrep" not in line]


def test_missing_rviz2_warns_and_the_node_goes_on(
    ros_env: dict[str, str], tiny_model: Path, tmp_path: Path
) -> None:
    launch = Launch(ros_env, tmp_path / "launch.log", "dense_ood.launch.py",
                    f"model_path:={tiny_model}", "use_rviz:=true")  # fmt: skip
    try:
        _wait_serving(launch, ros_env)
        assert "rviz2 is not installed: running without RViz" in launch.output()
    finally:
        code = launch.interrupt()
    assert code == 0 and "Traceback" not in launch.output(), launch.output()


def test_a_missing_params_file_stops_before_anything_starts(
    ros_env: dict[str, str], tmp_path: Path
) -> None:
    before = _node_processes()
    launch = Launch(ros_env, tmp_path / "launch.log", "dense_ood.launch.py",
                    f"params_file:={tmp_path / 'absent.yaml'}")  # fmt: skip
    assert launch.wait() != 0
    assert "params_file" in launch.output() and "does not exist" in launch.output()
    assert "process started" not in launch.output()
    assert _node_processes() == before


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["image_topics:=[]"], "'image_topics' is empty"),
        (["image_topics:=5"], "'5' is not a valid topic name"),
        (["model_path:=/absent/model.onnx"], "no such model file"),
    ],
)
def test_a_node_that_cannot_start_ends_the_launch_with_an_error(
    ros_env: dict[str, str], tiny_model: Path, tmp_path: Path, arguments: list[str], expected: str
) -> None:
    args = ["dense_ood.launch.py", *arguments]
    if not any(a.startswith("model_path") for a in arguments):
        args.append(f"model_path:={tiny_model}")
    launch = Launch(ros_env, tmp_path / "launch.log", *args)
    code = launch.wait(90)
    assert code != 0, launch.output()
    assert expected in launch.output()
    assert "the dense_ood node exited with status 1" in launch.output()
    assert "Traceback" not in launch.output()


def test_large_frames_gives_the_node_the_fast_dds_profile(
    ros_env: dict[str, str], tiny_model: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in ros_env.items() if "PROFILES_FILE" not in k}
    launch = Launch(env, tmp_path / "launch.log", "dense_ood.launch.py",
                    f"model_path:={tiny_model}", "large_frames:=true")  # fmt: skip
    try:
        _wait_serving(launch, env)
        children = subprocess.run(["pgrep", "-P", str(launch.process.pid)],
                                  capture_output=True, text=True).stdout.split()  # fmt: skip
        environments = [Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") for pid in children]
        profiles = [e for env_ in environments for e in env_
                    if e.startswith(b"FASTRTPS_DEFAULT_PROFILES_FILE=")]  # fmt: skip
        assert len(profiles) == 1, launch.output()
        path = Path(profiles[0].split(b"=", 1)[1].decode())
        assert path.name == "fastdds_large_frames.xml" and "<segment_size>" in path.read_text()
    finally:
        assert launch.interrupt() == 0, launch.output()
