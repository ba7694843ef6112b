"""ROS-free decoding of sensor_msgs/Image and CompressedImage fields to RGB uint8 [H, W, 3].

Works on the raw fields (encoding, height, width, step, data, is_bigendian), so the live node
(rclpy messages), the bag replay (rosbags messages) and the bench share it. Colour conversions
follow cv_bridge's: the same OpenCV codes, and mono16 scaled to 8 bit by 255/65535.
`encode_raw` is the inverse, for tests and the bench. The depth test (`is_depth_encoding`)
and the view of a row-padded buffer (`strided_rows`) are the ones every reader uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dense_ood_ros.errors import DenseOodError


class ImageDecodeError(DenseOodError, ValueError):
    """A frame that cannot be decoded; the message is one line naming the reason."""


class ImageFileError(DenseOodError, OSError):
    """An image file that is missing or not an image."""


@dataclass(frozen=True)
class _Encoding:
    channels: int  # values per pixel in the buffer
    itemsize: int  # bytes per value
    to_rgb: Callable[[np.ndarray], np.ndarray]  # [H, W, C] (or [H, W]) pixels -> RGB uint8

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.itemsize


def _cvt(code: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda pixels: cv2.cvtColor(pixels, code)


def _identity(pixels: np.ndarray) -> np.ndarray:
    return pixels  # already RGB: no copy (may be a read-only view of the message's data)


def _mono16_to_rgb(pixels: np.ndarray) -> np.ndarray:
    gray = cv2.convertScaleAbs(pixels, alpha=255.0 / 65535.0)  # cv_bridge's 16 -> 8 bit scaling
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def _bayer(new_name: str, old_name: str) -> Callable[[np.ndarray], np.ndarray]:
    # OpenCV names Bayer patterns by the second row; since 4.5 it also has the sensor-order
    # aliases (BayerRGGB2RGB == BayerBG2RGB). cv_bridge uses the same mapping.
    return _cvt(getattr(cv2, new_name, None) or getattr(cv2, old_name))


_ENCODINGS: dict[str, _Encoding] = {
    "rgb8": _Encoding(3, 1, _identity),
    "bgr8": _Encoding(3, 1, _cvt(cv2.COLOR_BGR2RGB)),
    "rgba8": _Encoding(4, 1, _cvt(cv2.COLOR_RGBA2RGB)),
    "bgra8": _Encoding(4, 1, _cvt(cv2.COLOR_BGRA2RGB)),
    "mono8": _Encoding(1, 1, _cvt(cv2.COLOR_GRAY2RGB)),
    "mono16": _Encoding(1, 2, _mono16_to_rgb),
    "yuv422": _Encoding(2, 1, _cvt(cv2.COLOR_YUV2RGB_UYVY)),  # ROS: UYVY byte order
    "yuv422_yuy2": _Encoding(2, 1, _cvt(cv2.COLOR_YUV2RGB_YUY2)),  # ROS: YUYV byte order
    "bayer_rggb8": _Encoding(1, 1, _bayer("COLOR_BayerRGGB2RGB", "COLOR_BayerBG2RGB")),
    "bayer_bggr8": _Encoding(1, 1, _bayer("COLOR_BayerBGGR2RGB", "COLOR_BayerRG2RGB")),
    "bayer_gbrg8": _Encoding(1, 1, _bayer("COLOR_BayerGBRG2RGB", "COLOR_BayerGR2RGB")),
    "bayer_grbg8": _Encoding(1, 1, _bayer("COLOR_BayerGRBG2RGB", "COLOR_BayerGB2RGB")),
}
_ENCODINGS["uyvy"] = _ENCODINGS["yuv422"]  # newer sensor_msgs spell the two YUV orders so
_ENCODINGS["yuyv"] = _ENCODINGS["yuv422_yuy2"]

#: Every sensor_msgs/Image encoding `decode_raw` accepts.
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_ENCODINGS)

_YUV_ENCODINGS = ("yuv422", "yuv422_yuy2", "uyvy", "yuyv")

#: Channel types of depth and other data images (16UC1, 32FC1, 32SC1, ...): not camera pictures.
_DEPTH_CHANNEL_TYPES = ("16U", "16S", "32S", "32F", "64F")


def is_depth_encoding(encoding: str) -> bool:
    """A depth or other data image (16/32/64-bit channels such as 16UC1, 32SC1, 32FC1), which a
    depth node reads and this one skips; case-insensitive, as image_transport's formats vary."""
    name = encoding.strip().upper()
    return name[:3] in _DEPTH_CHANNEL_TYPES and name[3:4] == "C"


def bytes_per_pixel(encoding: str) -> int:
    """Bytes one pixel takes in a row of `encoding` (ImageDecodeError if unsupported)."""
    return _lookup(encoding).bytes_per_pixel


def _lookup(encoding: str) -> _Encoding:
    try:
        return _ENCODINGS[encoding]
    except KeyError:
        raise ImageDecodeError(
            f"unsupported image encoding {encoding!r} (supported: {', '.join(_ENCODINGS)})"
        ) from None


def _as_bytes(data: Any) -> np.ndarray:
    """A flat uint8 view of `data` (bytes, bytearray, memoryview, array.array or ndarray)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError:  # a plain sequence of ints, e.g. a list
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def strided_rows(data: Any, height: int, row_bytes: int, step: int) -> np.ndarray:
    """The [height, row_bytes] uint8 view of a buffer whose rows start `step` bytes apart
    (padding after each row skipped, no copy); ImageDecodeError if the buffer is too short."""
    flat = _as_bytes(data)
    if step < row_bytes:
        raise ImageDecodeError(f"step {step} is less than the {row_bytes} bytes of a row")
    if flat.size < step * height:
        raise ImageDecodeError(
            f"image data too short: {flat.size} bytes, step*height = {step}*{height} = "
            f"{step * height}"
        )
    return flat[: step * height].reshape(height, step)[:, :row_bytes]


def check_raw(encoding: str, height: int, width: int, step: int, nbytes: int) -> None:
    """Raise ImageDecodeError if the fields cannot describe a valid `encoding` image."""
    layout = _lookup(encoding)
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"image has zero size ({width}x{height})")
    if encoding in _YUV_ENCODINGS and width % 2:
        raise ImageDecodeError(f"{encoding} image needs an even width, got {width}")
    row_bytes = width * layout.bytes_per_pixel
    if step < row_bytes:
        raise ImageDecodeError(
            f"step {step} is less than width*bytes_per_pixel = {width}*"
            f"{layout.bytes_per_pixel} = {row_bytes} for {encoding}"
        )
    if nbytes < step * height:
        raise ImageDecodeError(
            f"image data has {nbytes} bytes, step*height = {step}*{height} = {step * height}"
        )


def decode_raw(
    encoding: str,
    height: int,
    width: int,
    step: int,
    data: bytes | memoryview | np.ndarray,
    is_bigendian: bool = False,
) -> np.ndarray:
    """Decode a sensor_msgs/Image's fields to RGB uint8 [height, width, 3].

    Rows may be padded (`step` > width * bytes per pixel). An rgb8 result may share memory with
    `data` (read-only when `data` is bytes); every other encoding returns a new array.
    """
    flat = _as_bytes(data)
    check_raw(encoding, height, width, step, flat.size)
    layout = _ENCODINGS[encoding]
    rows = strided_rows(flat, height, width * layout.bytes_per_pixel, step)
    if layout.itemsize == 2:
        order = ">" if is_bigendian else "<"
        pixels = np.ascontiguousarray(rows).view(f"{order}u2").astype(np.uint16)
    elif layout.channels == 1:
        pixels = rows
    else:
        pixels = rows.reshape(height, width, layout.channels)
    return layout.to_rgb(pixels)


def decode_compressed(
    data: bytes | memoryview | np.ndarray,
    format: str = "",
    min_hw: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (JPEG or PNG) to RGB uint8 [H, W, 3].

    With `min_hw` (height, width), a JPEG is decoded at the largest reduced scale (1/2, 1/4,
    1/8: libjpeg's DCT scaling, much cheaper than decoding in full and shrinking) whose result
    is still at least `min_hw` in both dimensions; PNG and smaller JPEGs decode at full size.
    """
    buffer = _as_bytes(data)
    if buffer.size == 0:
        raise ImageDecodeError("compressed image is empty")
    if "compresseddepth" in format.lower():
        raise ImageDecodeError(f"compressed format {format!r} (depth images) is not supported")
    # image_transport writes "<raw encoding>; <codec> compressed ..."; 16UC1/32FC1 are depth maps
    source_encoding = format.split(";")[0].strip() if ";" in format else ""
    if is_depth_encoding(source_encoding):
        raise ImageDecodeError(
            f"compressed format {format!r}: {source_encoding.lower()} is a depth/data image, "
            "not a camera"
        )
    if _is_truncated_jpeg(buffer):
        raise ImageDecodeError(f"corrupt JPEG ({buffer.size} bytes): data ends before the image")
    image = None
    scale = jpeg_reduction(buffer, min_hw) if min_hw is not None else 1
    if scale > 1:
        image = cv2.imdecode(buffer, _REDUCED_FLAGS[scale])
        if (
            image is not None
            and min_hw is not None
            and (image.shape[0] < min_hw[0] or image.shape[1] < min_hw[1])
        ):  # an EXIF rotation turned it: decode in full rather than give less than asked
            image = None
    if image is None:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        hint = f"format {format!r}, " if format else ""
        raise ImageDecodeError(
            f"cannot decode compressed image ({hint}{buffer.size} bytes): corrupt or not JPEG/PNG"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)


#: OpenCV's reduced-scale colour reads by reduction factor.
_REDUCED_FLAGS = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): not C4, C8, CC.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(buffer: np.ndarray) -> tuple[int, int] | None:
    """(height, width) from a JPEG's frame header, without decoding; None if not a JPEG or
    the header is not found."""
    raw = buffer[:65536].tobytes() if buffer.size > 65536 else buffer.tobytes()
    if raw[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(raw):
        if raw[at] != 0xFF:
            return None
        marker = raw[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # stand-alone markers: no length
            at += 2
            continue
        length = int.from_bytes(raw[at + 2 : at + 4], "big")
        if marker in _SOF_MARKERS:
            if at + 9 > len(raw):
                return None
            height = int.from_bytes(raw[at + 5 : at + 7], "big")
            width = int.from_bytes(raw[at + 7 : at + 9], "big")
            return (height, width) if height and width else None
        if marker == 0xDA or length < 2:  # image data before any frame header: give up
            return None
        at += 2 + length
    return None


def jpeg_reduction(buffer: np.ndarray, min_hw: tuple[int, int]) -> int:
    """The largest factor of 8, 4 and 2 that libjpeg can decode `buffer` at (ceil(side/factor)
    per side) keeping both sides >= `min_hw`; 1 for full size, or when it is not a JPEG."""
    size = jpeg_size(buffer)
    if size is None:
        return 1
    for factor in (8, 4, 2):
        if all(-(-side // factor) >= least for side, least in zip(size, min_hw, strict=True)):
            return factor
    return 1


def _is_truncated_jpeg(buffer: np.ndarray) -> bool:
    """A JPEG whose last scan has no end-of-image marker after it.

    OpenCV decodes such a file with grey filler and only a libjpeg warning on stderr. Inside
    entropy-coded data 0xFF bytes are stuffed, so FF D9 after the last SOS (FF DA) is the EOI.
    """
    if buffer.size < 4 or buffer[0] != 0xFF or buffer[1] != 0xD8:
        return False
    raw = buffer.tobytes()
    last_scan = raw.rfind(b"\xff\xda")
    return last_scan < 0 or raw.find(b"\xff\xd9", last_scan) < 0


# --- encoding (tests and the bench produce camera-like raw frames) -----------------------------


#: Picture files the tools take from a folder (demo frames, calibration frames).
IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def image_files(folder: Path) -> list[Path]:
    """The picture files in `folder`, in name order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_FILE_SUFFIXES)


def read_rgb(path: str | Path) -> np.ndarray:
    """Colour image file -> RGB uint8 [H, W, 3] (OpenCV reads BGR); ImageFileError (an
    OSError) if the file is missing or not an image."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageFileError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def encode_raw(
    rgb: np.ndarray, encoding: str, row_padding: int = 0, is_bigendian: bool = False
) -> tuple[bytes, int]:
    """Encode RGB uint8 [H, W, 3] as `encoding`; return (data, step).

    `row_padding` extra bytes end every row (filled with 0xAB, so a decoder that ignores
    `step` shows). YUV 4:2:2 averages chroma over pixel pairs (BT.601, limited range as OpenCV
    decodes it); Bayer keeps one colour per pixel; mono keeps luma (mono16 scaled by 257).
    """
    layout = _lookup(encoding)
    rgb = np.asarray(rgb, dtype=np.uint8)
    height = rgb.shape[0]
    pixels = _encoders()[encoding](rgb)
    if layout.itemsize == 2:
        pixels = pixels.astype(">u2" if is_bigendian else "<u2")
    rows = pixels.reshape(height, -1).view(np.uint8).reshape(height, -1)
    if row_padding:
        pad = np.full((height, row_padding), 0xAB, dtype=np.uint8)
        rows = np.concatenate([rows, pad], axis=1)
    return rows.tobytes(), rows.shape[1]


def _encoders() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    def gray(rgb: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    encoders: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "rgb8": lambda rgb: rgb,
        "bgr8": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
        "rgba8": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA),
        "bgra8": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA),
        "mono8": gray,
        "mono16": lambda rgb: gray(rgb).astype(np.uint16) * 257,
        "yuv422": lambda rgb: _yuv422(rgb, uyvy=True),
        "yuv422_yuy2": lambda rgb: _yuv422(rgb, uyvy=False),
    }
    encoders["uyvy"] = encoders["yuv422"]
    encoders["yuyv"] = encoders["yuv422_yuy2"]
    for pattern in ("rggb", "bggr", "gbrg", "grbg"):
        encoders[f"bayer_{pattern}8"] = partial(_mosaic, pattern=pattern)
    return encoders


def _yuv422(rgb: np.ndarray, uyvy: bool) -> np.ndarray:
    """BT.601 limited-range 4:2:2 as interleaved bytes [H, W, 2] (UYVY or YUYV)."""
    if rgb.shape[1] % 2:
        raise ImageDecodeError(f"yuv422 needs an even width, got {rgb.shape[1]}")
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    u = (u[:, 0::2] + u[:, 1::2]) / 2
    v = (v[:, 0::2] + v[:, 1::2]) / 2
    chroma = np.empty_like(y)
    chroma[:, 0::2], chroma[:, 1::2] = u, v
    planes = (chroma, y) if uyvy else (y, chroma)
    out = np.stack(planes, axis=-1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """One colour per pixel in a 2x2 `pattern` such as "rggb" (row-major)."""
    channel = {"r": 0, "g": 1, "b": 2}
    out = np.empty(rgb.shape[:2], dtype=np.uint8)
    for index, letter in enumerate(pattern):
        dy, dx = divmod(index, 2)
        out[dy::2, dx::2] = rgb[dy::2, dx::2, channel[letter]]
    return out
