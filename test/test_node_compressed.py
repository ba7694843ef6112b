"""The live node on sensor_msgs/CompressedImage (`compressed: true`, `qos: reliable`)."""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy")

from conftest import TINY_INPUT_HW
from node_harness import (
    NodeProcess,
    RosClient,
    diagnostic_values,
    endpoint_reliabilities,
    image_from_msg,
    make_header,
    pick_domain_id,
    stamp_key,
    start_test_node,
    wait_for_status,
)

from dense_ood_ros.topics import ENCODING_OF_OUTPUT, output_topics

pytestmark = pytest.mark.ros

CAMERA = "/camera/image_raw"
_stamps = itertools.count(1)


@dataclass
class Setup:
    node: NodeProcess
    client: RosClient
    publisher: Any
    model: Path


@pytest.fixture(scope="module")
def setup(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CompressedImage, Image

    domain_id = pick_domain_id(2)
    params = {
        "model_path": str(tiny_model),
        "image_topics": [CAMERA],
        "compressed": True,
        "qos": "reliable",
        "backend": "onnxruntime",
    }
    node = start_test_node(params, domain_id, tmp_path_factory.mktemp("node_compressed"))
    client = RosClient(domain_id)
    try:
        publisher = client.publisher(CompressedImage, f"{CAMERA}/compressed", 10)
        outputs = list(output_topics(CAMERA).values())
        for topic in outputs:
            client.subscribe(Image, topic, 10)
        client.subscribe(DiagnosticArray, "/diagnostics", 10)
        client.wait_for_node([publisher], outputs, timeout=30)
        yield Setup(node, client, publisher, tiny_model)
    finally:
        client.close()
        if node.alive():
            node.stop(signal.SIGKILL)


def compressed_msg(data: bytes, fmt: str, header: Any) -> Any:
    from sensor_msgs.msg import CompressedImage

    return CompressedImage(header=header, format=fmt, data=data)


def encode(rgb: np.ndarray, ext: str) -> bytes:
    ok, buffer = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buffer.tobytes()


def send(setup: Setup, msg: Any, timeout: float = 10.0) -> dict[str, Any]:
    topics = output_topics(CAMERA)
    stamp = stamp_key(msg.header)
    setup.publisher.publish(msg)
    assert setup.client.spin_until(
        lambda: all(setup.client.messages_with_stamp(t, stamp) for t in topics.values()), timeout
    ), setup.node.output()[-2000:]
    return {name: setup.client.messages_with_stamp(t, stamp)[0] for name, t in topics.items()}


def direct_onnxruntime(model: Path, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    semantic, score = session.run(["semantic", "anomaly_score"], {"image": rgb[None]})
    return semantic[0], score[0]


@pytest.mark.parametrize(("ext", "fmt"), [(".png", "png"), (".jpg", "rgb8; jpeg compressed bgr8")])
def test_compressed_frames_match_a_direct_onnxruntime_run(setup: Setup, ext: str, fmt: str) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (*TINY_INPUT_HW, 3), dtype=np.uint8)
    data = encode(rgb, ext)
    header = make_header(next(_stamps), "camera_optical")
    outputs = send(setup, compressed_msg(data, fmt, header))
    for name, msg in outputs.items():
        assert msg.encoding == ENCODING_OF_OUTPUT[name]
        assert (msg.height, msg.width) == TINY_INPUT_HW
        assert msg.header.frame_id == "camera_optical"
        assert stamp_key(msg.header) == stamp_key(header)
    # What the node saw: the decoded image (lossless for PNG, JPEG's own decode otherwise).
    decoded = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    if ext == ".png":
        np.testing.assert_array_equal(decoded, rgb)
    semantic, score = direct_onnxruntime(setup.model, decoded)
    np.testing.assert_array_equal(image_from_msg(outputs["semantic"]), semantic)
    np.testing.assert_allclose(image_from_msg(outputs["anomaly_score"]), score, atol=1e-6)


def test_reliable_qos_when_asked(setup: Setup) -> None:
    from rclpy.qos import ReliabilityPolicy

    outputs = list(output_topics(CAMERA).values())
    subs, pubs = endpoint_reliabilities(setup.client, f"{CAMERA}/compressed", outputs)
    assert subs == [ReliabilityPolicy.RELIABLE]
    assert pubs == {topic: [ReliabilityPolicy.RELIABLE] for topic in outputs}


def test_corrupt_jpeg_is_rejected_and_node_keeps_serving(setup: Setup) -> None:
    from diagnostic_msgs.msg import DiagnosticStatus

    rgb = np.random.default_rng(2).integers(0, 256, (*TINY_INPUT_HW, 3), dtype=np.uint8)
    jpeg = encode(rgb, ".jpg")
    bad_header = make_header(next(_stamps), "bad")
    setup.publisher.publish(compressed_msg(jpeg[: len(jpeg) // 2], "jpeg", bad_header))
    status = wait_for_status(
        setup.client,
        CAMERA,
        lambda s: (
            s.level == DiagnosticStatus.ERROR
            and "corrupt JPEG" in diagnostic_values(s)["last_error"]
        ),
        timeout=10,
    )
    assert diagnostic_values(status)["frames_rejected"] == "1"
    assert setup.node.alive()
    send(setup, compressed_msg(jpeg, "jpeg", make_header(next(_stamps), "ok")))
    for topic in output_topics(CAMERA).values():
        assert not setup.client.messages_with_stamp(topic, stamp_key(bad_header))
    assert "rejected frame: corrupt JPEG" in setup.node.output()


def test_sigint_stops_the_node_cleanly(setup: Setup) -> None:
    code = setup.node.stop(signal.SIGINT)
    output = setup.node.output()
    assert code == 0, output[-2000:]
    assert "Traceback" not in output
