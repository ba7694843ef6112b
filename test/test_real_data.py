"""Real frames from real cameras (../shared/data): decoding and the pipeline on drivers' output.

Skipped where ../shared/data is absent (a fresh clone); CI has it beside the checkout.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dense_ood_ros.codec.image_codec import ImageDecodeError, decode_compressed
from dense_ood_ros.engine import load_engine
from dense_ood_ros.pipeline.frame_pipeline import Pipeline


def _bag_messages(bag_dir: Path) -> list[tuple[str, object]]:
    """(topic, CompressedImage) pairs of a rosbag2 folder, read with the rosbags library."""
    from rosbags.highlevel import AnyReader

    with AnyReader([bag_dir]) as reader:
        connections = [c for c in reader.connections if c.msgtype.endswith("CompressedImage")]
        return [
            (connection.topic, reader.deserialize(raw, connection.msgtype))
            for connection, _, raw in reader.messages(connections=connections)
        ]


@pytest.fixture(scope="module")
def real_bag_messages(shared_data: Path) -> list[tuple[str, object]]:
    bags = sorted((shared_data / "realbags").glob("*/ros2_mcap_converted/*"))
    messages = [m for bag in bags for m in _bag_messages(bag)]
    assert messages, "no CompressedImage messages in ../shared/data/realbags"
    return messages


def test_real_camera_jpegs_decode_like_opencv(real_bag_messages: list) -> None:
    camera = [(t, m) for t, m in real_bag_messages if "depth" not in t]
    assert len(camera) >= 3
    for topic, msg in camera:
        rgb = decode_compressed(bytes(msg.data), msg.format)
        reference = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        assert rgb.shape == reference.shape, topic
        np.testing.assert_array_equal(rgb, reference[..., ::-1], err_msg=topic)


def test_real_depth_png_is_refused_with_a_clear_reason(real_bag_messages: list) -> None:
    depth = [m for t, m in real_bag_messages if "depth" in t]
    assert depth and depth[0].format.startswith("16UC1")
    with pytest.raises(ImageDecodeError, match="16uc1 is a depth/data image"):
        decode_compressed(bytes(depth[0].data), depth[0].format)


def test_pipeline_on_real_dashcam_photos(shared_data: Path, tiny_model: Path) -> None:
    photos = sorted((shared_data / "realimages").rglob("*.jpg"))
    assert photos
    pipeline = Pipeline(load_engine(tiny_model, "onnxruntime"))
    for photo in photos[:3]:
        rgb = decode_compressed(photo.read_bytes(), "jpeg")
        result = pipeline.process(rgb)
        assert result.semantic.shape == rgb.shape[:2] and result.overlay.shape == rgb.shape
        assert np.isfinite(result.score).all()
        assert result.score.min() >= 0.0 and result.score.max() <= 1.0
        np.testing.assert_array_equal(result.mask == 255, result.score >= pipeline.threshold)
