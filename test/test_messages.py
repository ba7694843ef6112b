"""sensor_msgs conversions with the real rclpy message types (ros-jazzy-* wheels) and rosbags'."""

from __future__ import annotations

import array
import logging
import sys
import time

import cv2
import numpy as np
import pytest

from dense_ood_ros.codec.image_codec import ImageDecodeError, decode_raw, encode_raw
from dense_ood_ros.codec.messages import (
    COMPRESSED,
    IMAGE,
    BridgeDecoder,
    array_from_image_msg,
    build_image,
    decode_frame,
    image_msg_from_array,
    is_depth_frame,
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
def test_decode_frame_of_raw_images(encoding: str, rng) -> None:
    pairs = rng.integers(40, 216, (4, 3, 1), dtype=np.uint8)
    rgb = np.repeat(np.repeat(pairs, 2, axis=1), 3, axis=2)  # grey pixel pairs: every encoding
    data, step = encode_raw(rgb, encoding, row_padding=2)
    msg = sensor_msgs.Image(height=4, width=6, encoding=encoding, step=step)
    msg.data = array.array("B", data)
    decoded = decode_frame(_wire(msg), IMAGE)
    assert decoded.shape == (4, 6, 3)
    assert np.abs(decoded.astype(int) - rgb).max() <= 2


def test_decode_frame_round_trips_our_own_output(rng) -> None:
    rgb = rng.integers(0, 256, (5, 9, 3), dtype=np.uint8)
    msg = _wire(image_msg_from_array(rgb, "rgb8", _header()))
    np.testing.assert_array_equal(decode_frame(msg, IMAGE), rgb)
    with pytest.raises(ImageDecodeError, match="not a camera message"):
        decode_frame(msg, "sensor_msgs/msg/CameraInfo")


def test_bad_image_msgs_raise_decode_errors() -> None:
    msg = sensor_msgs.Image(height=2, width=2, encoding="weird", step=6)
    msg.data = array.array("B", bytes(12))
    with pytest.raises(ImageDecodeError, match="unsupported image encoding 'weird'"):
        decode_frame(msg, IMAGE)
    msg.encoding = "rgb8"
    msg.data = array.array("B", bytes(11))
    with pytest.raises(ImageDecodeError, match="step\\*height"):
        decode_frame(msg, IMAGE)


def test_decode_frame_of_compressed_images(rng) -> None:
    rgb = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    msg = sensor_msgs.CompressedImage(format="png")
    msg.data = array.array("B", png.tobytes())
    np.testing.assert_array_equal(decode_frame(_wire(msg), COMPRESSED), rgb)
    # a reduced-scale decode is for JPEG only: a PNG stays at full size
    np.testing.assert_array_equal(decode_frame(_wire(msg), COMPRESSED, min_hw=(1, 1)), rgb)
    msg.data = array.array("B", b"\xff\xd8\xff\xe0 not really a jpeg")
    msg.format = "jpeg"
    with pytest.raises(ImageDecodeError):
        decode_frame(msg, COMPRESSED)


def test_depth_frames_are_told_apart_from_camera_frames() -> None:
    for encoding in ("16UC1", "16SC1", "32SC1", "32FC1", "64FC1"):
        assert is_depth_frame(sensor_msgs.Image(encoding=encoding), IMAGE), encoding
    for encoding in ("rgb8", "mono16", "bayer_rggb8", "8UC1"):
        assert not is_depth_frame(sensor_msgs.Image(encoding=encoding), IMAGE), encoding
    for fmt in ("16UC1; compressedDepth png", "32FC1; compressedDepth", "32SC1; png compressed"):
        assert is_depth_frame(sensor_msgs.CompressedImage(format=fmt), COMPRESSED), fmt
    for fmt in ("jpeg", "bgr8; jpeg compressed bgr8", "mono16; png compressed"):
        assert not is_depth_frame(sensor_msgs.CompressedImage(format=fmt), COMPRESSED), fmt


class _OldBridge:
    """Stands in for an older distro's cv_bridge (apt-only, not installable here), which has
    no yuv422_yuy2: it converts what it knows as cv_bridge does and refuses the rest."""

    KNOWN = ("rgb8", "bgr8", "mono8")

    def __init__(self) -> None:
        self.calls = 0

    def imgmsg_to_cv2(self, msg, desired_encoding: str) -> np.ndarray:
        self.calls += 1
        if msg.encoding not in self.KNOWN:
            raise TypeError(f"Unrecognized image encoding [{msg.encoding}]")
        return decode_raw(msg.encoding, msg.height, msg.width, msg.step, msg.data)


class _Records(logging.Handler):
    """Collects records on the logger itself: `launch`, once imported by another test, stops
    loggers created later from passing records up to pytest's caplog."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_cv_bridge_fallback_is_logged_once_per_encoding(rng) -> None:
    bridge = _OldBridge()
    logger = logging.getLogger("dense_ood_ros.codec.test")
    records = _Records()
    logger.addHandler(records)
    decoder = BridgeDecoder(bridge, logger)
    rgb = np.repeat(rng.integers(40, 216, (4, 3, 3), dtype=np.uint8), 2, axis=1)  # pixel pairs
    msgs = {}
    for encoding in ("yuv422_yuy2", "uyvy", "bgr8"):
        data, step = encode_raw(rgb, encoding)
        msgs[encoding] = sensor_msgs.Image(height=4, width=6, encoding=encoding, step=step)
        msgs[encoding].data = array.array("B", data)
    try:
        for _ in range(3):
            for encoding, msg in msgs.items():
                decoded = decoder(_wire(msg))
                expected = decode_raw(encoding, 4, 6, msg.step, bytes(msg.data))
                np.testing.assert_array_equal(decoded, expected)
    finally:
        logger.removeHandler(records)
    warnings = [r.getMessage() for r in records.records]
    assert bridge.calls == 9  # cv_bridge is asked every time, in case it can
    assert sorted(warnings) == [
        "cv_bridge cannot convert uyvy images (Unrecognized image encoding [uyvy]); "
        "decoding them with image_codec",
        "cv_bridge cannot convert yuv422_yuy2 images (Unrecognized image encoding "
        "[yuv422_yuy2]); decoding them with image_codec",
    ]
    bad = sensor_msgs.Image(height=2, width=2, encoding="rgb8", step=6)
    bad.data = array.array("B", bytes(11))
    with pytest.raises(ImageDecodeError, match="step\\*height"):  # checked before cv_bridge
        decoder(bad)
    assert bridge.calls == 9


@pytest.mark.parametrize("encoding", ["mono8", "rgb8", "bgr8", "32FC1"])
def test_build_image_makes_the_same_message_for_rclpy_and_rosbags(encoding: str, rng) -> None:
    typesys = pytest.importorskip("rosbags.typesys")
    store = typesys.get_typestore(typesys.Stores.ROS2_HUMBLE)
    shape = (5, 7) if encoding in ("mono8", "32FC1") else (5, 7, 3)
    dtype = np.float32 if encoding == "32FC1" else np.uint8
    pixels = (rng.random(shape) * 255).astype(dtype)
    types = store.types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=1700000000, nanosec=123456789),
        frame_id="cam_front",
    )
    from_rosbags = store.serialize_cdr(build_image(types[IMAGE], pixels, encoding, header), IMAGE)
    from_rclpy = serialization.serialize_message(image_msg_from_array(pixels, encoding, _header()))
    # the bag writer's message, read by a ROS subscriber, is the one the node publishes
    in_bag = serialization.deserialize_message(bytes(from_rosbags), sensor_msgs.Image)
    published = serialization.deserialize_message(from_rclpy, sensor_msgs.Image)
    assert in_bag == published
    np.testing.assert_array_equal(array_from_image_msg(in_bag), pixels)
    np.testing.assert_array_equal(
        array_from_image_msg(store.deserialize_cdr(from_rosbags, IMAGE)), pixels
    )
