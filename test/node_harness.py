"""Helpers of the node integration tests: the real node as a subprocess, and a test-side rclpy
client (publishers, subscriptions, parameter services) in its own context and DDS domain.

Each test module picks its own ROS_DOMAIN_ID (offset by the process id, so two test runs on one
machine do not hear each other) and keeps discovery on localhost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.tools import node_process, ros_client
from dense_ood_ros.tools.node_process import NodeProcess
from dense_ood_ros.tools.ros_client import diagnostic_values, stamp_key
from dense_ood_ros.topics import NODE_NAME

ROOT = Path(__file__).resolve().parents[1]

# Every test process talks to its nodes over localhost only.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


def pick_domain_id(offset: int) -> int:
    """A domain id in 1..220 for one test module, varied by pid against parallel test runs."""
    return 1 + (os.getpid() * 7 + offset * 41) % 220


def node_env(domain_id: int, log_dir: Path) -> dict[str, str]:
    """The node's environment as the tools build it, plus its ROS log folder and plain,
    unbuffered output."""
    extra = {"ROS_LOG_DIR": str(log_dir), "RCUTILS_COLORIZED_OUTPUT": "0", "PYTHONUNBUFFERED": "1"}
    return node_process.node_environment(domain_id, extra)


def start_test_node(params: dict[str, Any], domain_id: int, workdir: Path) -> NodeProcess:
    """The node with `params` in `domain_id`, started as the tools start it, files in `workdir`
    (also its working folder, not the checkout: the installed package runs)."""
    env = node_env(domain_id, workdir / "ros_log")
    return node_process.start_node(params, workdir, domain_id=domain_id, env=env, cwd=workdir)


def run_node_until_exit(
    params: dict[str, Any], domain_id: int, workdir: Path, timeout: float = 30.0
) -> tuple[int, str]:
    """Run the node with `params` until it exits by itself; (exit code, output)."""
    node = start_test_node(params, domain_id, workdir)
    try:
        code = node.wait(timeout)
    except subprocess.TimeoutExpired:
        node.stop(signal.SIGKILL)
        raise AssertionError(f"node did not exit within {timeout} s:\n{node.output()}") from None
    return code, node.output()


def make_header(index: int, frame_id: str) -> Any:
    from std_msgs.msg import Header

    header = Header(frame_id=frame_id)
    header.stamp.sec = 1_000 + index
    header.stamp.nanosec = 1_000 * index
    return header


def image_msg(rgb: np.ndarray, header: Any, encoding: str = "rgb8") -> Any:
    """A sensor_msgs/Image of an RGB array as rgb8 or bgr8 (rows padded by 4 bytes for bgr8)."""
    from sensor_msgs.msg import Image

    pixels = rgb if encoding == "rgb8" else np.ascontiguousarray(rgb[..., ::-1])
    height, width = pixels.shape[:2]
    pad = 0 if encoding == "rgb8" else 4  # exercise step > width * 3
    rows = np.zeros((height, width * 3 + pad), np.uint8)
    rows[:, : width * 3] = pixels.reshape(height, width * 3)
    return Image(
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * 3 + pad,
        data=rows.tobytes(),
    )


def image_from_msg(msg: Any) -> np.ndarray:
    """The pixels of a received output Image (mono8, rgb8 or 32FC1); the node pads no rows."""
    from dense_ood_ros.codec.messages import IMAGE_LAYOUTS, array_from_image_msg

    dtype, channels = IMAGE_LAYOUTS[msg.encoding]
    assert msg.step == msg.width * channels * dtype.itemsize, (msg.encoding, msg.step, msg.width)
    return array_from_image_msg(msg)


class RosClient(ros_client.RosClient):
    """The tools' client node, with the tests' assertions on top."""

    def __init__(self, domain_id: int, name: str = "dense_ood_test") -> None:
        super().__init__(domain_id, name)

    def wait_for_node(
        self, publishers: list[Any], output_topics: list[str], timeout: float
    ) -> None:
        """Until the node's subscriptions match `publishers` and its outputs match ours."""
        ready = self.spin_until(lambda: self.matched(publishers, output_topics), timeout)
        assert ready, "the node's topics did not appear in time"

    def messages_with_stamp(self, topic: str, stamp: tuple[int, int]) -> list[Any]:
        return [msg for _, msg in self.received[topic] if stamp_key(msg.header) == stamp]

    def call(self, srv_type: type, service: str, request: Any, timeout: float = 10.0) -> Any:
        answer = super().call(srv_type, service, request, timeout)
        assert answer is not None, f"{service} did not answer within {timeout} s"
        return answer


def latest_status(client: RosClient, camera_topic: str, since: float = 0.0) -> Any | None:
    """The newest DiagnosticStatus of `camera_topic` received after `since` (monotonic)."""
    return next((status for _, status in client.statuses(camera_topic, since)), None)


def wait_for_status(
    client: RosClient,
    camera_topic: str,
    condition: Callable[[Any], bool],
    timeout: float = 5.0,
) -> Any:
    """Spin until a diagnostics status of `camera_topic` received from now on meets `condition`."""
    since = time.monotonic()
    found: list[Any] = []

    def met() -> bool:
        status = latest_status(client, camera_topic, since)
        if status is not None and condition(status):
            found.append(status)
            return True
        return False

    last = None
    if not client.spin_until(met, timeout):
        last = latest_status(client, camera_topic, since)
        detail = None if last is None else (last.level, last.message, diagnostic_values(last))
        raise AssertionError(f"no diagnostics status of {camera_topic} as expected: {detail}")
    return found[0]


def endpoint_reliabilities(
    client: RosClient, input_topic: str, outputs: list[str], timeout: float = 10.0
) -> tuple[list[Any], dict[str, list[Any]]]:
    """QoS reliability of the dense_ood node's subscription and of each output publisher.

    The client's graph cache fills asynchronously after discovery, so wait until every
    endpoint is known before reading it.
    """

    def of_node(infos: list[Any]) -> list[Any]:
        return [i.qos_profile.reliability for i in infos if i.node_name == NODE_NAME]

    node = client.node
    deadline = time.monotonic() + timeout
    while True:
        subs = of_node(node.get_subscriptions_info_by_topic(input_topic))
        pubs = {t: of_node(node.get_publishers_info_by_topic(t)) for t in outputs}
        if (subs and all(pubs.values())) or time.monotonic() > deadline:
            return subs, pubs
        time.sleep(0.05)


def colcon_style_install(folder: Path) -> Path:
    """Install this package under `folder`/install the way colcon installs an ament_python
    package (setup.cfg's script dirs honoured, as pip does not); returns the prefix."""
    root = Path(__file__).resolve().parents[1]
    build, prefix = folder / "build", folder / "install"
    build.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(build),
        "build", "--build-base", str(build / "build"),
        "install", "--prefix", str(prefix), "--single-version-externally-managed",
        "--record", str(build / "install.log"),
    ]  # fmt: skip
    subprocess.run(command, cwd=root, check=True, capture_output=True)
    return prefix
