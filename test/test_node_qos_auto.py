"""`qos: auto` with a camera that starts after the node: the subscription follows the camera's
reliability (reliable and best effort), and its frames are processed."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from node_harness import (
    RosClient,
    endpoint_reliabilities,
    image_msg,
    make_header,
    pick_domain_id,
    start_test_node,
)

from dense_ood_ros.ros.qos_follow import BEST_EFFORT, RELIABLE, follow_reliability
from dense_ood_ros.topics import output_topics

pytestmark = pytest.mark.ros

CAMERA = "/cam_late/image_raw"


def test_follow_reliability() -> None:
    assert follow_reliability([], BEST_EFFORT) == BEST_EFFORT  # nobody yet: keep
    assert follow_reliability([RELIABLE], BEST_EFFORT) == RELIABLE
    assert follow_reliability([RELIABLE, BEST_EFFORT], RELIABLE) == BEST_EFFORT
    assert follow_reliability([BEST_EFFORT], RELIABLE) == BEST_EFFORT
    assert follow_reliability([], RELIABLE) == RELIABLE  # the camera went away: keep


@pytest.mark.parametrize("reliable", [True, False])
def test_camera_after_node(tiny_model: Path, tmp_path: Path, reliable: bool) -> None:
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import Image

    domain_id = pick_domain_id(11 + int(reliable))
    node = start_test_node(
        {"model_path": str(tiny_model), "image_topics": [CAMERA]}, domain_id, tmp_path
    )
    client = RosClient(domain_id)
    try:
        deadline = time.monotonic() + 60
        while "serving" not in node.output() and time.monotonic() < deadline:
            assert node.alive(), node.output()
            time.sleep(0.1)
        # the camera starts only now
        policy = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
        camera_qos = QoSProfile(depth=5, reliability=policy)
        publisher = client.publisher(Image, CAMERA, camera_qos)
        mask_topic = output_topics(CAMERA)["anomaly_mask"]
        client.subscribe(Image, mask_topic, qos_profile_sensor_data)
        deadline = time.monotonic() + 20
        subs: list = []
        while time.monotonic() < deadline:
            subs, _ = endpoint_reliabilities(client, CAMERA, [mask_topic], timeout=2)
            if subs == [policy]:
                break
            client.spin_for(0.2)
        assert subs == [policy], node.output()
        frame = np.full((32, 48, 3), 120, np.uint8)
        for index in range(10):
            publisher.publish(image_msg(frame, make_header(index + 1, "late")))
            client.spin_for(0.2)
        client.spin_until(lambda: len(client.received[mask_topic]) >= 8, timeout=10)
        received = len(client.received[mask_topic])
        assert received >= 8, node.output()
        kind = "reliable" if reliable else "best_effort"
        assert (f"offer {kind}" in node.output()) == reliable  # auto starts best effort
    finally:
        client.close()
        assert node.stop(signal.SIGINT) == 0, node.output()
