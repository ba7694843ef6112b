"""camera_info beside the masks: topic names, scaling, and the node with `output_size: model`."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_INPUT_HW

from dense_ood_ros.ros.camera_info import (
    camera_info_topic,
    output_camera_info_topic,
    scaled_camera_info,
)


def test_topics() -> None:
    assert camera_info_topic("/cam_front/image_raw") == "/cam_front/camera_info"
    assert output_camera_info_topic("/cam_front/image_raw") == "/cam_front/dense_ood/camera_info"
    assert camera_info_topic("image_raw") == "camera_info"


def _info(width: int = 640, height: int = 480):
    sensor_msgs = pytest.importorskip("sensor_msgs.msg")
    info = sensor_msgs.CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.k = [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]
    info.p = [500.0, 0.0, 320.0, -25.0, 0.0, 510.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.d = [0.1, -0.2, 0.0, 0.0, 0.0]
    return info


def test_scaling_follows_image_proc_resize() -> None:
    std_msgs = pytest.importorskip("std_msgs.msg")
    header = std_msgs.Header(frame_id="cam")
    out = scaled_camera_info(_info(), header, 240, 160)  # half height, quarter width
    assert (out.width, out.height) == (160, 240)
    np.testing.assert_allclose(out.k, [125, 0, 80, 0, 255, 120, 0, 0, 1])
    np.testing.assert_allclose(out.p, [125, 0, 80, -6.25, 0, 255, 120, 0, 0, 0, 1, 0])
    np.testing.assert_allclose(out.d, [0.1, -0.2, 0, 0, 0])
    assert out.header.frame_id == "cam"
    assert _info().width == 640  # the input is left alone


@pytest.mark.ros
def test_node_at_model_size_republishes_scaled_camera_info(
    tiny_model: Path, tmp_path: Path
) -> None:
    pytest.importorskip("rclpy")
    from node_harness import RosClient, image_msg, make_header, pick_domain_id, start_test_node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    from dense_ood_ros.topics import output_topics

    camera = "/cam_i/image_raw"
    domain_id = pick_domain_id(13)
    params = {"model_path": str(tiny_model), "image_topics": [camera], "output_size": "model",
              "qos": "reliable"}  # fmt: skip
    node = start_test_node(params, domain_id, tmp_path)
    client = RosClient(domain_id)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    try:
        frames = client.publisher(Image, camera, qos)
        infos = client.publisher(CameraInfo, "/cam_i/camera_info", qos)
        mask_topic = output_topics(camera)["anomaly_mask"]
        client.subscribe(Image, mask_topic, qos)
        client.subscribe(CameraInfo, "/cam_i/dense_ood/camera_info", qos)
        client.wait_for_node([frames], [mask_topic], timeout=60)
        height, width = 2 * TINY_INPUT_HW[0], 2 * TINY_INPUT_HW[1]
        info = _info(width, height)
        deadline = time.monotonic() + 20
        index = 0
        while time.monotonic() < deadline and not client.received["/cam_i/dense_ood/camera_info"]:
            index += 1
            infos.publish(info)
            frames.publish(image_msg(np.full((height, width, 3), 90, np.uint8),
                                     make_header(index, "cam_i")))  # fmt: skip
            client.spin_for(0.3)
        mask = client.received[mask_topic][-1][1]
        assert (mask.height, mask.width) == TINY_INPUT_HW  # the model's size
        out = client.received["/cam_i/dense_ood/camera_info"][-1][1]
        assert (out.height, out.width) == TINY_INPUT_HW
        assert out.k[0] == pytest.approx(info.k[0] / 2) and out.k[5] == pytest.approx(info.k[5] / 2)
        assert out.header.frame_id == "cam_i" and out.header.stamp.sec > 0
    finally:
        client.close()
        assert node.stop(signal.SIGINT) == 0, node.output()
