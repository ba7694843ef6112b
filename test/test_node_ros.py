"""The live node against the real rclpy and Fast DDS: two raw cameras, one node process.

The node runs as `python -m dense_ood_ros.node --ros-args --params-file F` with its default QoS
(sensor_data, best effort); this module publishes camera frames and checks every output, the
parameters, /diagnostics, bad frames and a clean SIGTERM shutdown.
"""

from __future__ import annotations

import itertools
import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rclpy")

from conftest import TINY_CLASSES, TINY_INPUT_HW, TINY_PALETTE
from node_harness import (
    NodeProcess,
    RosClient,
    diagnostic_values,
    endpoint_reliabilities,
    image_from_msg,
    image_msg,
    make_header,
    pick_domain_id,
    stamp_key,
    start_test_node,
    wait_for_status,
)

from dense_ood_ros.ros.node_config import MODEL_PARAMETERS, PARAMETER_NAMES
from dense_ood_ros.topics import ENCODING_OF_OUTPUT, output_topics

pytestmark = pytest.mark.ros

CAMERAS = ("/cam_front/image_raw", "/cam_rear/image_raw")
THRESHOLD = 0.6  # the tiny model's
_stamps = itertools.count(1)


@dataclass
class Setup:
    node: NodeProcess
    client: RosClient
    publishers: dict[str, Any]
    model: Path


@pytest.fixture(scope="module")
def setup(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    domain_id = pick_domain_id(1)
    params = {"model_path": str(tiny_model), "image_topics": list(CAMERAS)}
    node = start_test_node(params, domain_id, tmp_path_factory.mktemp("node_ros"))
    client = RosClient(domain_id)
    try:
        publishers = {cam: client.publisher(Image, cam, qos_profile_sensor_data) for cam in CAMERAS}
        outputs = [topic for cam in CAMERAS for topic in output_topics(cam).values()]
        for topic in outputs:
            client.subscribe(Image, topic, qos_profile_sensor_data)
        client.subscribe(DiagnosticArray, "/diagnostics", 10)
        client.wait_for_node(list(publishers.values()), outputs, timeout=30)
        yield Setup(node, client, publishers, tiny_model)
    finally:
        client.close()
        if node.alive():
            node.stop(signal.SIGKILL)


def send(setup: Setup, camera: str, msg: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Publish `msg` on `camera` and return its five outputs (re-sent if best effort lost it)."""
    topics = output_topics(camera)
    stamp = stamp_key(msg.header)

    def complete() -> bool:
        return all(setup.client.messages_with_stamp(t, stamp) for t in topics.values())

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not complete():
        setup.publishers[camera].publish(msg)
        setup.client.spin_until(complete, min(2.0, deadline - time.monotonic()))
    assert complete(), f"no outputs for {camera} stamp {stamp}:\n{setup.node.output()[-2000:]}"
    return {name: setup.client.messages_with_stamp(t, stamp)[0] for name, t in topics.items()}


def frame(hw: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)


def direct_onnxruntime(model: Path, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    semantic, score = session.run(["semantic", "anomaly_score"], {"image": rgb[None]})
    return semantic[0], score[0]


def set_parameters(setup: Setup, **values: Any) -> list[Any]:
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    request = SetParameters.Request(
        parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()
        ]
    )
    return setup.client.call(SetParameters, "/dense_ood/set_parameters", request).results


def test_two_cameras_publish_five_outputs_with_input_header_and_size(setup: Setup) -> None:
    cases = {
        CAMERAS[0]: (TINY_INPUT_HW, "rgb8", "front_optical"),
        CAMERAS[1]: ((45, 70), "bgr8", "rear_optical"),  # odd size, padded rows, resized back
    }
    for camera, (hw, encoding, frame_id) in cases.items():
        header = make_header(next(_stamps), frame_id)
        outputs = send(setup, camera, image_msg(frame(hw, 1), header, encoding))
        assert set(outputs) == set(ENCODING_OF_OUTPUT)
        for name, msg in outputs.items():
            assert msg.encoding == ENCODING_OF_OUTPUT[name], name
            assert (msg.height, msg.width) == hw, name
            assert msg.header.frame_id == frame_id, name
            assert stamp_key(msg.header) == stamp_key(header), name
            assert image_from_msg(msg).shape[:2] == hw
        semantic = image_from_msg(outputs["semantic"])
        score = image_from_msg(outputs["anomaly_score"])
        mask = image_from_msg(outputs["anomaly_mask"])
        color = image_from_msg(outputs["semantic_color"])
        assert semantic.max() < len(TINY_CLASSES)
        assert np.isfinite(score).all() and score.min() >= 0.0 and score.max() <= 1.0
        np.testing.assert_array_equal(mask, np.where(score >= THRESHOLD, 255, 0))
        np.testing.assert_array_equal(color, np.asarray(TINY_PALETTE, np.uint8)[semantic])
        assert image_from_msg(outputs["overlay"]).any()


def test_semantic_and_score_equal_a_direct_onnxruntime_run(setup: Setup) -> None:
    rgb = frame(TINY_INPUT_HW, 2)
    outputs = send(setup, CAMERAS[0], image_msg(rgb, make_header(next(_stamps), "front")))
    semantic, score = direct_onnxruntime(setup.model, rgb)
    np.testing.assert_array_equal(image_from_msg(outputs["semantic"]), semantic)
    np.testing.assert_allclose(image_from_msg(outputs["anomaly_score"]), score, atol=1e-6)


def test_default_qos_follows_best_effort_cameras_and_publishes_reliable(setup: Setup) -> None:
    from rclpy.qos import ReliabilityPolicy

    for camera in CAMERAS:  # the fixture's cameras publish best effort (sensor data)
        outputs = list(output_topics(camera).values())
        subs, pubs = endpoint_reliabilities(setup.client, camera, outputs)
        assert subs == [ReliabilityPolicy.BEST_EFFORT]
        assert pubs == {topic: [ReliabilityPolicy.RELIABLE] for topic in outputs}


def test_model_parameters_are_exposed_read_only(setup: Setup) -> None:
    from rcl_interfaces.srv import GetParameters, ListParameters

    listed = setup.client.call(
        ListParameters, "/dense_ood/list_parameters", ListParameters.Request()
    ).result.names
    rclpy_own = {"use_sim_time", "start_type_description_service"}
    assert set(listed) - rclpy_own == set(PARAMETER_NAMES) | set(MODEL_PARAMETERS)

    values = setup.client.call(
        GetParameters,
        "/dense_ood/get_parameters",
        GetParameters.Request(names=["class_names", "palette", "anomaly_threshold"]),
    ).values
    assert list(values[0].string_array_value) == list(TINY_CLASSES)
    assert list(values[1].string_array_value) == [
        "#{:02x}{:02x}{:02x}".format(*rgb) for rgb in TINY_PALETTE
    ]
    assert math.isnan(values[2].double_value)  # .nan: the model's threshold is in use

    results = set_parameters(setup, class_names=["a", "b", "c", "d"])
    assert not results[0].successful
    results = set_parameters(setup, model_path="/elsewhere.onnx")
    assert not results[0].successful and "read-only" in results[0].reason


def test_threshold_and_publish_color_change_at_run_time(setup: Setup) -> None:
    camera = CAMERAS[0]
    try:
        assert [r.successful for r in set_parameters(setup, anomaly_threshold=0)] == [True]
        outputs = send(
            setup, camera, image_msg(frame(TINY_INPUT_HW, 3), make_header(next(_stamps), "f"))
        )
        assert (image_from_msg(outputs["anomaly_mask"]) == 255).all()  # every score >= 0

        assert [r.successful for r in set_parameters(setup, publish_color=False)] == [True]
        header = make_header(next(_stamps), "f")
        setup.publishers[camera].publish(image_msg(frame(TINY_INPUT_HW, 4), header))
        mask_topic = output_topics(camera)["anomaly_mask"]
        stamp = stamp_key(header)
        assert setup.client.spin_until(
            lambda: setup.client.messages_with_stamp(mask_topic, stamp), 10
        )
        setup.client.spin_for(0.3)
        color_topic = output_topics(camera)["semantic_color"]
        assert not setup.client.messages_with_stamp(color_topic, stamp)
    finally:
        results = set_parameters(setup, anomaly_threshold=math.nan, publish_color=True)
        assert [r.successful for r in results] == [True, True]
    rgb = frame(TINY_INPUT_HW, 5)
    outputs = send(setup, camera, image_msg(rgb, make_header(next(_stamps), "f")))
    score = image_from_msg(outputs["anomaly_score"])
    np.testing.assert_array_equal(
        image_from_msg(outputs["anomaly_mask"]), np.where(score >= THRESHOLD, 255, 0)
    )


def test_diagnostics_report_each_camera(setup: Setup) -> None:
    from diagnostic_msgs.msg import DiagnosticStatus

    for camera in CAMERAS:
        send(setup, camera, image_msg(frame((32, 48), 6), make_header(next(_stamps), "d")))
        status = wait_for_status(
            setup.client, camera, lambda s: int(diagnostic_values(s)["frames_processed"]) >= 1
        )
        values = diagnostic_values(status)
        assert status.hardware_id == camera
        assert int(values["frames_in"]) >= int(values["frames_processed"]) >= 1
        assert values["frames_dropped"].isdigit()
        assert values["frames_lost"] == "0"  # publication sequence numbers without a gap
        assert "input_rate_hz" in values
        # a camera that processed a good frame is healthy, unless it had to drop one
        healthy = DiagnosticStatus.OK if values["frames_dropped"] == "0" else DiagnosticStatus.WARN
        assert status.level == healthy, status.message
        p50, p95, top = (float(values[f"latency_ms_{k}"]) for k in ("p50", "p95", "max"))
        assert 0.0 < p50 <= p95 <= top < 10_000.0
        assert values["output_namespace"] == camera.rsplit("/", 1)[0] + "/dense_ood"


def _check_bad_frame_rejected(setup: Setup, bad: Any, reason: str) -> None:
    from diagnostic_msgs.msg import DiagnosticStatus

    camera = CAMERAS[0]
    before = time.monotonic()
    setup.publishers[camera].publish(bad)
    status = wait_for_status(
        setup.client,
        camera,
        lambda s: (
            s.level == DiagnosticStatus.ERROR and reason in diagnostic_values(s)["last_error"]
        ),
        timeout=10,
    )
    assert int(diagnostic_values(status)["frames_rejected"]) >= 1
    assert reason in status.message
    # The node is alive and the next good frame is processed, on this camera and the other.
    assert setup.node.alive()
    for cam in CAMERAS:
        send(setup, cam, image_msg(frame(TINY_INPUT_HW, 7), make_header(next(_stamps), "ok")))
    # No outputs for the bad frame.
    for topic in output_topics(camera).values():
        assert not setup.client.messages_with_stamp(topic, stamp_key(bad.header))
    log = setup.node.output()
    assert "rejected frame" in log  # throttled: at most one such line per 5 s
    assert "Traceback" not in log
    assert time.monotonic() - before < 15


def test_unknown_encoding_is_rejected(setup: Setup) -> None:
    bad = image_msg(frame(TINY_INPUT_HW, 8), make_header(next(_stamps), "bad"))
    bad.encoding = "yuv420_whatever"
    _check_bad_frame_rejected(setup, bad, "unsupported image encoding 'yuv420_whatever'")


def test_data_shorter_than_step_times_height_is_rejected(setup: Setup) -> None:
    bad = image_msg(frame(TINY_INPUT_HW, 9), make_header(next(_stamps), "bad"))
    bad.data = bytes(bad.data)[: bad.step * bad.height - 1]
    _check_bad_frame_rejected(setup, bad, f"image data has {bad.step * bad.height - 1} bytes")


def test_zero_width_is_rejected(setup: Setup) -> None:
    bad = image_msg(frame(TINY_INPUT_HW, 10), make_header(next(_stamps), "bad"))
    bad.width, bad.step, bad.data = 0, 0, b""
    _check_bad_frame_rejected(setup, bad, "zero size")


def test_sigterm_stops_the_node_cleanly(setup: Setup) -> None:
    code = setup.node.stop(signal.SIGTERM)
    output = setup.node.output()
    assert code == 0, output[-2000:]
    assert "Traceback" not in output
