"""The INT8 model of `dense-ood quantize` in the live node, like any other model: the node
loads it, says it runs INT8, and publishes what ONNX Runtime computes with that model."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from conftest import TINY_INPUT_HW
from node_harness import (
    RosClient,
    image_from_msg,
    image_msg,
    make_header,
    pick_domain_id,
    stamp_key,
    start_test_node,
)

from dense_ood_ros.engine import load_engine
from dense_ood_ros.topics import output_topics

pytestmark = pytest.mark.ros

CAMERA = "/camera/image_raw"


def test_node_serves_the_int8_model(int8_tiny_model: Path, tmp_path: Path) -> None:
    from sensor_msgs.msg import Image

    domain_id = pick_domain_id(9)
    params = {"model_path": str(int8_tiny_model), "image_topics": [CAMERA], "qos": "reliable"}
    node = start_test_node(params, domain_id, tmp_path)
    client = RosClient(domain_id)
    try:
        publisher = client.publisher(Image, CAMERA, 10)
        topics = output_topics(CAMERA)
        for topic in (topics["semantic"], topics["anomaly_score"]):
            client.subscribe(Image, topic, 10)
        client.wait_for_node([publisher], [topics["semantic"], topics["anomaly_score"]], 30)
        rgb = np.random.default_rng(3).integers(0, 256, (*TINY_INPUT_HW, 3), dtype=np.uint8)
        header = make_header(1, "camera")
        publisher.publish(image_msg(rgb, header))
        stamp = stamp_key(header)
        wanted = (topics["semantic"], topics["anomaly_score"])
        assert client.spin_until(
            lambda: all(client.messages_with_stamp(t, stamp) for t in wanted), 15
        ), node.output()[-2000:]
        semantic = image_from_msg(client.messages_with_stamp(topics["semantic"], stamp)[0])
        score = image_from_msg(client.messages_with_stamp(topics["anomaly_score"], stamp)[0])
        expected = load_engine(int8_tiny_model, "onnxruntime").infer(rgb[None])
        np.testing.assert_array_equal(semantic, expected.semantic[0])
        np.testing.assert_allclose(score, expected.score[0], atol=1e-6)
        deadline = time.monotonic() + 5
        while "onnxruntime int8" not in node.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "onnxruntime int8" in node.output()
    finally:
        client.close()
        if node.alive():
            node.stop(signal.SIGKILL)
