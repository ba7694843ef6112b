"""The live node's anomaly obstacles against the real rclpy: MarkerArray and PointCloud2 per
camera with the frame's header, the cloud's points on the ground plane of the camera's
CameraInfo (scaled to the outputs' size), DELETEALL when the anomalies vanish, /diagnostics; a
bad mounting serves without positions after one line; enable_obstacles: false has no topics.
"""

from __future__ import annotations

import itertools
import math
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("visualization_msgs.msg")

from conftest import TINY_INPUT_HW
from node_harness import (
    NodeProcess,
    RosClient,
    diagnostic_values,
    image_msg,
    make_header,
    pick_domain_id,
    run_node_until_exit,
    stamp_key,
    start_test_node,
    wait_for_status,
)

from dense_ood_ros.pipeline.obstacle_messages import CLOUD_DTYPE, LABELS_NS, OBSTACLES_NS
from dense_ood_ros.topics import obstacle_topics, output_topics

pytestmark = pytest.mark.ros

CAMERA = "/cam/image_raw"
INFO_TOPIC = "/cam/camera_info"
FRAME_HW = (2 * TINY_INPUT_HW[0], 2 * TINY_INPUT_HW[1])  # outputs at the model's: K is scaled
HEIGHT_M, PITCH = 1.5, 0.1
MAX_POINTS = 50  # fewer than the 96 contact columns of a mask that is anomalous everywhere
CUBE, TEXT_VIEW_FACING, ADD, DELETEALL = 1, 9, 0, 3
_stamps = itertools.count(1)


@dataclass
class Setup:
    node: NodeProcess
    client: RosClient
    camera: Any  # publisher
    info: Any  # publisher
    topics: dict[str, str]  # anomaly_obstacles, anomaly_points, anomaly_mask


def _start(
    params: dict[str, Any], offset: int, workdir: Path
) -> tuple[NodeProcess, RosClient, Setup]:
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from visualization_msgs.msg import MarkerArray

    domain_id = pick_domain_id(offset)
    node = start_test_node({"image_topics": [CAMERA], **params}, domain_id, workdir)
    client = RosClient(domain_id)
    topics = {**obstacle_topics(CAMERA), "anomaly_mask": output_topics(CAMERA)["anomaly_mask"]}
    kinds = {"anomaly_obstacles": MarkerArray, "anomaly_points": PointCloud2,
             "anomaly_mask": Image}  # fmt: skip
    for name, topic in topics.items():
        client.subscribe(kinds[name], topic, qos_profile_sensor_data)
    client.subscribe(DiagnosticArray, "/diagnostics", 10)
    camera = client.publisher(Image, CAMERA, qos_profile_sensor_data)
    info = client.publisher(CameraInfo, INFO_TOPIC, 10)
    return node, client, Setup(node, client, camera, info, topics)


@pytest.fixture(scope="module")
def setup(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    params = {
        "model_path": str(tiny_model),
        "anomaly_threshold": 0.0,  # every score is >= 0: the whole frame is one obstacle
        "camera_height_m": HEIGHT_M,
        "camera_pitch_rad": PITCH,
        "obstacle_max_points": MAX_POINTS,
        "output_size": "model",
    }
    node, client, ready = _start(params, 23, tmp_path_factory.mktemp("node_obstacles"))
    try:
        client.wait_for_node([ready.camera, ready.info], list(ready.topics.values()), timeout=30)
        yield ready
    finally:
        client.close()
        if node.alive():
            node.stop(signal.SIGKILL)


def camera_info(header: Any) -> Any:
    """The calibration of FRAME_HW frames: f = 160 px, principal point at the centre."""
    from sensor_msgs.msg import CameraInfo

    height, width = FRAME_HW
    k = [160.0, 0.0, (width - 1) / 2, 0.0, 160.0, (height - 1) / 2, 0.0, 0.0, 1.0]
    p = [k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
    return CameraInfo(header=header, height=height, width=width, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=k, r=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], p=p)  # fmt: skip


def frame_msg(header: Any) -> Any:
    rgb = np.random.default_rng(stamp_key(header)[0]).integers(0, 256, (*FRAME_HW, 3), np.uint8)
    return image_msg(rgb, header)


def outputs(setup: Setup, header: Any) -> dict[str, Any] | None:
    """The obstacle outputs and the mask of the frame stamped `header`, once all arrived."""
    stamp = stamp_key(header)
    found = {name: setup.client.messages_with_stamp(topic, stamp) if name != "anomaly_obstacles"
             else [m for _, m in setup.client.received[topic]
                   if m.markers and stamp_key(m.markers[0].header) == stamp]
             for name, topic in setup.topics.items()}  # fmt: skip
    return {name: found[name][-1] for name in found} if all(found.values()) else None


def send(setup: Setup, frame_id: str, until: Any, timeout: float = 30.0) -> dict[str, Any]:
    """Publish the calibration and a new frame until the frame's outputs meet `until` (each
    try a new stamp: a first frame may beat the CameraInfo, or best effort may lose it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        header = make_header(next(_stamps), frame_id)
        setup.info.publish(camera_info(header))
        setup.client.spin_for(0.1)
        setup.camera.publish(frame_msg(header))
        if setup.client.spin_until(lambda h=header: outputs(setup, h) is not None, 3.0):
            got = outputs(setup, header)
            assert got is not None
            if until(got):
                got["header"] = header
                return got
    raise AssertionError(f"no outputs as expected:\n{setup.node.output()[-3000:]}")


def points_of(cloud: Any) -> np.ndarray:
    assert (cloud.height, cloud.point_step, cloud.is_bigendian, cloud.is_dense) == (
        1, 16, False, True,
    )  # fmt: skip
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
        ("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("score", 12, 7, 1),
    ]  # fmt: skip
    data = np.frombuffer(bytes(cloud.data), np.uint8)
    assert len(data) == cloud.row_step == 16 * cloud.width
    return data.view(CLOUD_DTYPE)


def has_cube(array: Any) -> bool:
    return any(m.type == CUBE and m.action == ADD for m in array.markers)


def test_obstacles_are_published_on_the_ground_then_deleted(setup: Setup) -> None:
    got = send(setup, "cam_optical", lambda o: has_cube(o["anomaly_obstacles"]))
    header, markers, cloud, mask = (
        got["header"], got["anomaly_obstacles"], got["anomaly_points"], got["anomaly_mask"],
    )  # fmt: skip
    # The masks' header (stamp and frame_id) on both, markers included.
    for msg in (cloud, mask, *markers.markers):
        assert msg.header.frame_id == "cam_optical"
        assert stamp_key(msg.header) == stamp_key(header)
    assert (mask.height, mask.width) == TINY_INPUT_HW
    first, *rest = markers.markers
    assert (first.action, first.ns) == (DELETEALL, "")
    assert [(m.ns, m.id, m.type) for m in rest] == [
        (OBSTACLES_NS, 0, CUBE), (LABELS_NS, 0, TEXT_VIEW_FACING),
    ]  # fmt: skip
    assert re.fullmatch(r"\d+\.\d m, score [01]\.\d\d", rest[1].text), rest[1].text

    points = points_of(cloud)
    assert len(points) == MAX_POINTS  # 96 contact columns, subsampled evenly
    xyz = np.column_stack([points["x"], points["y"], points["z"]]).astype(np.float64)
    # y, z of the optical frame on the ground plane: y cos(pitch) + z sin(pitch) = height
    plane = xyz[:, 1] * math.cos(PITCH) + xyz[:, 2] * math.sin(PITCH)
    np.testing.assert_allclose(plane, HEIGHT_M, atol=1e-3)
    assert (xyz[:, 2] > 0).all() and np.ptp(xyz[:, 0]) > 0  # ahead, across the frame
    assert ((points["score"] >= 0) & (points["score"] <= 1)).all()
    status = wait_for_status(setup.client, CAMERA,
                             lambda s: diagnostic_values(s).get("obstacles") == "1")  # fmt: skip
    assert diagnostic_values(status)["obstacle_positions"] == "ok"

    # No anomaly: the next MarkerArray deletes the boxes and labels, the cloud is empty.
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    request = SetParameters.Request(
        parameters=[Parameter("anomaly_threshold", value=2.0).to_parameter_msg()]
    )
    results = setup.client.call(SetParameters, "/dense_ood/set_parameters", request).results
    assert [r.successful for r in results] == [True]
    got = send(setup, "cam_optical", lambda o: not has_cube(o["anomaly_obstacles"]))
    assert [(m.action, m.ns) for m in got["anomaly_obstacles"].markers] == [(DELETEALL, "")]
    assert got["anomaly_points"].width == 0 and len(points_of(got["anomaly_points"])) == 0
    assert stamp_key(got["anomaly_points"].header) == stamp_key(got["header"])
    wait_for_status(setup.client, CAMERA, lambda s: diagnostic_values(s)["obstacles"] == "0")
    assert "Traceback" not in setup.node.output()


def test_a_bad_mounting_serves_without_positions_after_one_line(
    tiny_model: Path, tmp_path: Path
) -> None:
    params = {"model_path": str(tiny_model), "anomaly_threshold": 0.0, "camera_height_m": -1.5}
    node, client, ready = _start(params, 24, tmp_path)
    try:
        client.wait_for_node([ready.camera, ready.info], list(ready.topics.values()), 30)
        for _ in range(2):
            got = send(ready, "cam", lambda o: True)
            assert [m.action for m in got["anomaly_obstacles"].markers] == [DELETEALL]
            assert got["anomaly_points"].width == 0
        status = wait_for_status(client, CAMERA, lambda s: diagnostic_values(s)["obstacles"] == "1")
        assert "'camera_height_m' is -1.5" in diagnostic_values(status)["obstacle_positions"]
        assert node.alive()
        lines = [line for line in node.output().splitlines() if "without positions" in line]
        assert len(lines) == 1, node.output()
        assert "[WARN]" in lines[0]
        assert "parameter 'camera_height_m' is -1.5: it must be > 0 m" in lines[0]
    finally:
        client.close()
        node.stop(signal.SIGKILL)


def test_obstacles_off_have_no_topics(tiny_model: Path, tmp_path: Path) -> None:
    params = {"model_path": str(tiny_model), "enable_obstacles": False}
    node, client, ready = _start(params, 25, tmp_path)
    try:
        mask = [ready.topics["anomaly_mask"]]
        client.wait_for_node([ready.camera], mask, timeout=30)
        header = make_header(next(_stamps), "cam")
        for _ in range(10):  # best effort: re-sent until the mask comes back
            ready.camera.publish(frame_msg(header))
            if client.spin_until(lambda: client.messages_with_stamp(mask[0], stamp_key(header)), 2):
                break
        assert client.messages_with_stamp(mask[0], stamp_key(header)), node.output()[-2000:]
        status = wait_for_status(client, CAMERA, lambda s: "obstacles" in diagnostic_values(s))
        assert diagnostic_values(status)["obstacles"] == "off"
        for topic in obstacle_topics(CAMERA).values():
            assert client.node.count_publishers(topic) == 0, topic
        assert "obstacles off" in node.output()
    finally:
        client.close()
        node.stop(signal.SIGKILL)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"obstacle_max_count": 0}, "parameter 'obstacle_max_count' must be at least 1, got 0"),
        ({"obstacle_min_pixels": 6.5}, "bad parameter 'obstacle_min_pixels'"),
    ],
)
def test_bad_obstacle_counts_stop_the_node_in_one_line(
    tiny_model: Path, tmp_path: Path, params: dict, expected: str
) -> None:
    code, output = run_node_until_exit(
        {"model_path": str(tiny_model), **params}, pick_domain_id(26), tmp_path
    )
    assert code == 1, output
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and expected in errors[0], output
    assert "Traceback" not in output
