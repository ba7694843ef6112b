"""Camera messages to RGB arrays and results to sensor_msgs/Image: the one frame decoder
(`decode_frame`) of the node, the replay, the calibration and the bench, and the one Image
builder (`build_image`) of the node, the bag writer and the sample bag.

Messages are rclpy's or rosbags' (the same fields); sensor_msgs is imported lazily. Raw Images
decode through cv_bridge where it imports, as a ROS install provides it. cv_bridge is apt-only
(the PyPI `cv-bridge` is a ROS 1 port that breaks on numpy >= 2.3), so pip installs and CI
decode with `image_codec`, which follows cv_bridge's conversions. Both paths reject the same bad
fields with the same ImageDecodeError first, and an encoding cv_bridge refuses (older distros
have no yuv422_yuy2) still decodes through `image_codec`, with one warning per encoding.

`rosbags-image` (rosbags' cv_bridge) is not used: it ignores `step` (row padding), asserts on
corrupt data and builds no messages, so it would be a second, weaker decoder beside this one.
"""

from __future__ import annotations

import array
import dataclasses
import logging
import sys
import threading
from functools import cache
from typing import Any

import numpy as np

from dense_ood_ros.codec.image_codec import (
    ImageDecodeError,
    check_raw,
    decode_compressed,
    decode_raw,
    is_depth_encoding,
    strided_rows,
)
from dense_ood_ros.errors import DenseOodError, first_line

__all__ = [
    "CAMERA_TYPES",
    "COMPRESSED",
    "IMAGE",
    "IMAGE_LAYOUTS",
    "BridgeDecoder",
    "ImageDecodeError",
    "array_from_image_msg",
    "build_image",
    "decode_frame",
    "image_decoder",
    "image_msg_from_array",
    "is_depth_frame",
    "pixels_as_uint8_array",
]

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
#: The message types a camera publishes (ROS 2 names).
CAMERA_TYPES = (IMAGE, COMPRESSED)

#: Encodings `build_image` writes and `array_from_image_msg` reads: name -> (dtype, channels).
IMAGE_LAYOUTS: dict[str, tuple[np.dtype, int]] = {
    "mono8": (np.dtype(np.uint8), 1),
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "32FC1": (np.dtype(np.float32), 1),
}

_log = logging.getLogger(__name__)


def decode_frame(msg: Any, msgtype: str, *, min_hw: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 [H, W, 3] of a camera message of ROS type `msgtype` (IMAGE or COMPRESSED).

    `min_hw` (height, width): a JPEG may be decoded at a reduced scale no smaller than it (for
    outputs at the model's size); None decodes at full size. ImageDecodeError for bad frames.
    """
    if msgtype == COMPRESSED:
        return decode_compressed(msg.data, str(msg.format), min_hw)
    if msgtype == IMAGE:
        decoder = _bridge_decoder()
        if decoder is not None:
            return decoder(msg)
        return _decode_image(msg)
    raise ImageDecodeError(f"{msgtype} is not a camera message ({' or '.join(CAMERA_TYPES)})")


def is_depth_frame(msg: Any, msgtype: str) -> bool:
    """A depth image rather than a camera picture (by encoding, or a compressed depth format)."""
    if msgtype == IMAGE:
        return is_depth_encoding(str(msg.encoding))
    fmt = str(msg.format)
    return "compresseddepth" in fmt.lower() or is_depth_encoding(fmt.split(";")[0])


def _decode_image(msg: Any) -> np.ndarray:
    return decode_raw(
        msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian)
    )


class ImageBuildError(DenseOodError, ValueError):
    """Pixels that an Image of the asked encoding cannot hold."""


class BridgeDecoder:
    """Raw Images through a cv_bridge.CvBridge; an encoding it refuses decodes with
    `image_codec` instead, and the first such frame of each encoding logs a warning."""

    def __init__(self, bridge: Any, log: logging.Logger = _log) -> None:
        self.bridge = bridge
        self.log = log
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, msg: Any) -> np.ndarray:
        encoding = str(msg.encoding)
        check_raw(encoding, msg.height, msg.width, msg.step, memoryview(msg.data).nbytes)
        try:
            return self.bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8")
        except Exception as exc:  # an encoding this cv_bridge lacks: decode it ourselves
            if self._first(encoding):
                self.log.warning(
                    "cv_bridge cannot convert %s images (%s); decoding them with image_codec",
                    encoding,
                    first_line(exc),
                )
        return _decode_image(msg)

    def _first(self, encoding: str) -> bool:
        with self._lock:
            first = encoding not in self._warned
            self._warned.add(encoding)
        return first


@cache
def _bridge_decoder() -> BridgeDecoder | None:
    """cv_bridge's decoder, or None where cv_bridge does not import (pip installs, CI)."""
    try:
        from cv_bridge import CvBridge
    except Exception:  # ImportError, or a cv_bridge built against another numpy/OpenCV
        return None
    return BridgeDecoder(CvBridge())


def image_decoder() -> str:
    """Which decoder raw Images go through here: 'cv_bridge' or 'image_codec'."""
    return "cv_bridge" if _bridge_decoder() is not None else "image_codec"


def build_image(image_type: type, pixels: np.ndarray, encoding: str, header: Any = None) -> Any:
    """A sensor_msgs/Image of `image_type` (rclpy's class, or a rosbags typestore's, which
    needs `header`) holding `pixels` in `encoding` (one of IMAGE_LAYOUTS), rows unpadded;
    ImageBuildError (a ValueError) for an encoding or array it cannot hold."""
    try:
        dtype, channels = IMAGE_LAYOUTS[encoding]
    except KeyError:
        raise ImageBuildError(
            f"cannot build an Image with encoding {encoding!r} "
            f"(supported: {', '.join(IMAGE_LAYOUTS)})"
        ) from None
    shape_ok = pixels.ndim == 2 if channels == 1 else pixels.shape[2:] == (channels,)
    if pixels.dtype != dtype or not shape_ok:
        raise ImageBuildError(
            f"{encoding} needs a {dtype} array of shape [H, W"
            f"{'' if channels == 1 else f', {channels}'}], got {pixels.dtype} {list(pixels.shape)}"
        )
    height, width = pixels.shape[:2]
    fields = {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": int(sys.byteorder == "big" and dtype.itemsize > 1),
        "step": width * channels * dtype.itemsize,
    }
    if dataclasses.is_dataclass(image_type):  # rosbags: every field given, data a uint8 array
        data = np.ascontiguousarray(pixels).reshape(-1).view(np.uint8)
        rosbags_type: Any = image_type
        return rosbags_type(header=header, data=data, **fields)
    msg = _new_image(image_type)
    if header is not None:
        msg.header = header
    for name, value in fields.items():
        setattr(msg, name, value)
    msg.data = pixels_as_uint8_array(pixels)
    return msg


def image_msg_from_array(array_: np.ndarray, encoding: str, header: Any = None) -> Any:
    """An rclpy sensor_msgs/msg/Image holding `array_` (see `build_image`) and `header`.

    One copy of the pixels: into an array.array('B'), which the message stores as is.
    """
    from sensor_msgs.msg import Image

    return build_image(Image, array_, encoding, header)


def array_from_image_msg(msg: Any) -> np.ndarray:
    """The pixels of an Image in one of IMAGE_LAYOUTS (the node's outputs), honouring
    `step`: [H, W] for one channel, [H, W, C] otherwise."""
    try:
        dtype, channels = IMAGE_LAYOUTS[msg.encoding]
    except KeyError:
        raise ImageDecodeError(
            f"not an output encoding: {msg.encoding!r} (expected {', '.join(IMAGE_LAYOUTS)})"
        ) from None
    rows = strided_rows(msg.data, msg.height, msg.width * channels * dtype.itemsize, msg.step)
    pixels = rows.copy().view(dtype)  # its own memory, whatever becomes of the message
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
