"""Conversions between sensor_msgs messages and numpy arrays (sensor_msgs imported lazily).

Decoding uses cv_bridge where it imports, as a ROS install provides it. cv_bridge is apt-only
(the PyPI `cv-bridge` is a ROS 1 port that breaks on numpy >= 2.3), so pip installs and CI fall
back to `image_codec`, which follows cv_bridge's conversions. Both paths reject the same bad
fields with the same ImageDecodeError first, and encodings cv_bridge lacks (older distros have
no yuv422_yuy2) still decode through `image_codec`.
"""

from __future__ import annotations

import array
import sys
from functools import cache
from typing import Any

import numpy as np

from dense_ood_ros.codec.image_codec import (
    ImageDecodeError,
    check_raw,
    decode_compressed,
    decode_raw,
)

__all__ = [
    "ImageDecodeError",
    "array_from_image_msg",
    "image_msg_from_array",
    "rgb_from_compressed_msg",
    "rgb_from_image_msg",
]

#: Encodings `image_msg_from_array` writes: name -> (dtype, channels).
OUTPUT_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "mono8": (np.dtype(np.uint8), 1),
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "32FC1": (np.dtype(np.float32), 1),
}


@cache
def _bridge() -> Any | None:
    """A cv_bridge.CvBridge, or None where cv_bridge does not import (pip installs, CI)."""
    try:
        from cv_bridge import CvBridge
    except Exception:  # ImportError, or a cv_bridge built against another numpy/OpenCV
        return None
    return CvBridge()


def image_decoder() -> str:
    """Which decoder `rgb_from_image_msg` uses here: 'cv_bridge' or 'image_codec'."""
    return "cv_bridge" if _bridge() is not None else "image_codec"


def rgb_from_image_msg(msg: Any) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a sensor_msgs/Image (rclpy or rosbags message)."""
    encoding, height, width, step = msg.encoding, msg.height, msg.width, msg.step
    bridge = _bridge()
    if bridge is not None:
        check_raw(encoding, height, width, step, memoryview(msg.data).nbytes)
        try:
            return bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8")
        except Exception:  # an encoding this cv_bridge lacks: decode it ourselves below
            pass
    return decode_raw(encoding, height, width, step, msg.data, bool(msg.is_bigendian))


def rgb_from_compressed_msg(msg: Any) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a sensor_msgs/CompressedImage (JPEG or PNG)."""
    # cv_bridge's compressed path is cv2.imdecode too, without our truncated-JPEG check.
    return decode_compressed(msg.data, msg.format)


def image_msg_from_array(array_: np.ndarray, encoding: str, header: Any = None) -> Any:
    """A sensor_msgs/msg/Image holding `array_` (mono8, rgb8, bgr8 or 32FC1) and `header`.

    One copy of the pixels: into an array.array('B'), which the message stores as is.
    """
    from sensor_msgs.msg import Image

    try:
        dtype, channels = OUTPUT_ENCODINGS[encoding]
    except KeyError:
        raise ValueError(
            f"cannot build an Image with encoding {encoding!r} "
            f"(supported: {', '.join(OUTPUT_ENCODINGS)})"
        ) from None
    shape_ok = array_.ndim == 2 if channels == 1 else array_.shape[2:] == (channels,)
    if array_.dtype != dtype or not shape_ok:
        raise ValueError(
            f"{encoding} needs a {dtype} array of shape [H, W"
            f"{'' if channels == 1 else f', {channels}'}], got {array_.dtype} {list(array_.shape)}"
        )
    height, width = array_.shape[:2]
    msg = _new_image(Image)
    if header is not None:
        msg.header = header
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.is_bigendian = int(sys.byteorder == "big" and dtype.itemsize > 1)
    msg.step = width * channels * dtype.itemsize
    msg.data = pixels_as_uint8_array(array_)
    return msg


def array_from_image_msg(msg: Any) -> np.ndarray:
    """The pixels of an Image in one of OUTPUT_ENCODINGS (the node's outputs), honouring
    `step`: [H, W] for one channel, [H, W, C] otherwise."""
    try:
        dtype, channels = OUTPUT_ENCODINGS[msg.encoding]
    except KeyError:
        raise ImageDecodeError(
            f"not an output encoding: {msg.encoding!r} (expected {', '.join(OUTPUT_ENCODINGS)})"
        ) from None
    row = msg.width * channels * dtype.itemsize
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ImageDecodeError(
            f"{msg.encoding} image {msg.width}x{msg.height}: step {msg.step} or "
            f"{len(msg.data)} bytes of data too short"
        )
    rows = np.frombuffer(bytes(msg.data), np.uint8)[: msg.step * msg.height]
    pixels = np.ascontiguousarray(rows.reshape(msg.height, msg.step)[:, :row]).view(dtype)
    shape = (msg.height, msg.width, channels) if channels > 1 else (msg.height, msg.width)
    return pixels.reshape(shape)


def pixels_as_uint8_array(pixels: np.ndarray) -> array.array:
    """The bytes of `pixels` (row-major) in an array.array('B'), with one copy."""
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(pixels).data.cast("B"))
    return data


def _new_image(image_type: type) -> Any:
    """An empty Image whose `data` setter keeps an array.array('B') without copying it.

    Jazzy's generated setter copies the array again unless field checks are on; with checks on
    it stores an array.array as is (Humble's always does, and has no `check_fields`).
    """
    if "_check_fields" in getattr(image_type, "__slots__", ()):
        return image_type(check_fields=True)
    return image_type()
