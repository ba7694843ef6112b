"""sensor_msgs conversions with the real rclpy message types (ros-jazzy-* wheels)."""

from __future__ import annotations

import array
import sys
import time

import cv2
import numpy as np
import pytest

from dense_ood_ros.codec.image_codec import ImageDecodeError, encode_raw
from dense_ood_ros.codec.messages import (
    array_from_image_msg,
    image_msg_from_array,
    rgb_from_compressed_msg,
    rgb_from_image_msg,
)

sensor_msgs = pytest.importorskip("sensor_msgs.msg")
std_msgs = pytest.importorskip("std_msgs.msg")
serialization = pytest.importorskip("rclpy.serialization")

pytestmark = pytest.mark.ros


def _header() -> object:
    header = std_msgs.Header(frame_id="cam_front")
    header.stamp.sec, header.stamp.nanosec = 1700000000, 123456789
    return header


def _wire(msg: object) -> object:
    """The message after DDS serialisation, as a subscriber sees it."""
    data = serialization.serialize_message(msg)
    return serialization.deserialize_message(data, type(msg))


@pytest.mark.parametrize(
    ("encoding", "shape", "dtype"),
    [("mono8", (5, 7), np.uint8), ("rgb8", (5, 7, 3), np.uint8), ("32FC1", (5, 7), np.float32)],
)
def test_image_msg_from_array(encoding: str, shape: tuple, dtype: type, rng) -> None:
    pixels = (rng.random(shape) * 255).astype(dtype)
    msg = _wire(image_msg_from_array(pixels, encoding, _header()))
    assert isinstance(msg, sensor_msgs.Image)
    assert (msg.height, msg.width, msg.encoding) == (5, 7, encoding)
    assert msg.step == 7 * pixels.itemsize * (3 if encoding == "rgb8" else 1)
    assert msg.is_bigendian == (sys.byteorder == "big" and pixels.itemsize > 1)
    assert msg.header.frame_id == "cam_front"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1700000000, 123456789)
    back = np.frombuffer(bytes(msg.data), dtype=dtype).reshape(shape)
    np.testing.assert_array_equal(back, pixels)
    np.testing.assert_array_equal(array_from_image_msg(msg), pixels)


def test_array_from_image_msg_honours_row_padding_and_refuses_short_data(rng) -> None:
    pixels = (rng.random((4, 5, 3)) * 255).astype(np.uint8)
    msg = image_msg_from_array(pixels, "rgb8")
    padded = np.zeros((4, 5 * 3 + 9), np.uint8)
    padded[:, :15] = pixels.reshape(4, 15)
    msg.step, msg.data = 24, padded.tobytes()
    np.testing.assert_array_equal(array_from_image_msg(msg), pixels)
    msg.data = padded.tobytes()[:-1]
    with pytest.raises(ImageDecodeError, match="too short"):
        array_from_image_msg(msg)
    msg.encoding = "bayer_rggb8"
    with pytest.raises(ImageDecodeError, match="not an output encoding"):
        array_from_image_msg(msg)


def test_image_msg_from_a_non_contiguous_view(rng) -> None:
    pixels = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    msg = image_msg_from_array(pixels[:, :, 1], "mono8", _header())
    assert bytes(msg.data) == pixels[:, :, 1].tobytes()


def test_image_msg_without_header_and_bad_arrays() -> None:
    msg = image_msg_from_array(np.zeros((2, 3), np.uint8), "mono8", None)
    assert msg.header.frame_id == ""
    with pytest.raises(ValueError, match="32FC1 needs a float32"):
        image_msg_from_array(np.zeros((2, 3), np.float64), "32FC1", None)
    with pytest.raises(ValueError, match=r"rgb8 needs a uint8 array of shape \[H, W, 3\]"):
        image_msg_from_array(np.zeros((2, 3), np.uint8), "rgb8", None)
    with pytest.raises(ValueError, match="cannot build an Image with encoding 'yuv422'"):
        image_msg_from_array(np.zeros((2, 4, 2), np.uint8), "yuv422", None)


def test_large_frames_are_built_without_per_byte_python_loops(rng) -> None:
    pixels = rng.integers(0, 256, (1024, 2048, 3), dtype=np.uint8)
    start = time.perf_counter()
    msg = image_msg_from_array(pixels, "rgb8", _header())
    elapsed = time.perf_counter() - start
    assert isinstance(msg.data, array.array) and len(msg.data) == pixels.size
    assert elapsed < 0.5  # a per-element copy of 6 MB takes seconds; one memcpy takes ~1 ms


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8", "yuv422"])
def test_rgb_from_image_msg(encoding: str, rng) -> None:
    pairs = rng.integers(40, 216, (4, 3, 1), dtype=np.uint8)
    rgb = np.repeat(np.repeat(pairs, 2, axis=1), 3, axis=2)  # grey pixel pairs: every encoding
    data, step = encode_raw(rgb, encoding, row_padding=2)
    msg = sensor_msgs.Image(height=4, width=6, encoding=encoding, step=step)
    msg.data = array.array("B", data)
    decoded = rgb_from_image_msg(_wire(msg))
    assert decoded.shape == (4, 6, 3)
    assert np.abs(decoded.astype(int) - rgb).max() <= 2


def test_rgb_from_image_msg_round_trips_our_own_output(rng) -> None:
    rgb = rng.integers(0, 256, (5, 9, 3), dtype=np.uint8)
    msg = _wire(image_msg_from_array(rgb, "rgb8", _header()))
    np.testing.assert_array_equal(rgb_from_image_msg(msg), rgb)


def test_bad_image_msgs_raise_decode_errors() -> None:
    msg = sensor_msgs.Image(height=2, width=2, encoding="weird", step=6)
    msg.data = array.array("B", bytes(12))
    with pytest.raises(ImageDecodeError, match="unsupported image encoding 'weird'"):
        rgb_from_image_msg(msg)
    msg.encoding = "rgb8"
    msg.data = array.array("B", bytes(11))
    with pytest.raises(ImageDecodeError, match="step\\*height"):
        rgb_from_image_msg(msg)


def test_rgb_from_compressed_msg(rng) -> None:
    rgb = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    msg = sensor_msgs.CompressedImage(format="png")
    msg.data = array.array("B", png.tobytes())
    np.testing.assert_array_equal(rgb_from_compressed_msg(_wire(msg)), rgb)
    msg.data = array.array("B", b"\xff\xd8\xff\xe0 not really a jpeg")
    msg.format = "jpeg"
    with pytest.raises(ImageDecodeError):
        rgb_from_compressed_msg(msg)
