"""Decoding sensor_msgs/Image encodings and CompressedImage: round trips and each bad input."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest

from dense_ood_ros.codec.image_codec import (
    SUPPORTED_ENCODINGS,
    ImageDecodeError,
    bytes_per_pixel,
    decode_compressed,
    decode_raw,
    encode_raw,
    image_files,
    is_depth_encoding,
    jpeg_reduction,
    jpeg_size,
    strided_rows,
)
from dense_ood_ros.codec.resize import resize_to
from dense_ood_ros.model.bundled import sample_frames_dir

HEIGHT, WIDTH = 6, 10
LOSSLESS = ("rgb8", "bgr8", "rgba8", "bgra8")
MONO = ("mono8", "mono16")
YUV = ("yuv422", "yuv422_yuy2", "uyvy", "yuyv")
BAYER = ("bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8")


def _decode_error(*args, **kwargs) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_raw(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_every_encoding_is_covered() -> None:
    assert set(SUPPORTED_ENCODINGS) == {*LOSSLESS, *MONO, *YUV, *BAYER}


@pytest.mark.parametrize("padding", [0, 5])
@pytest.mark.parametrize("encoding", LOSSLESS)
def test_colour_round_trip_is_exact(encoding: str, padding: int, rng) -> None:
    rgb = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    data, step = encode_raw(rgb, encoding, row_padding=padding)
    assert step == WIDTH * bytes_per_pixel(encoding) + padding
    decoded = decode_raw(encoding, HEIGHT, WIDTH, step, data)
    assert decoded.dtype == np.uint8 and decoded.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(decoded, rgb)


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("padding", [0, 3])
@pytest.mark.parametrize("encoding", MONO)
def test_mono_round_trip_of_a_grey_image(encoding, padding, bigendian, rng) -> None:
    grey = rng.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    data, step = encode_raw(rgb, encoding, padding, is_bigendian=bigendian)
    decoded = decode_raw(encoding, HEIGHT, WIDTH, step, data, is_bigendian=bigendian)
    np.testing.assert_array_equal(decoded, rgb)


def test_mono16_byte_order_is_honoured() -> None:
    data = bytes([0x12, 0x34, 0xFF, 0xFF])  # 0x1234 big-endian = 4660 -> 18; 0xFFFF -> 255
    big = decode_raw("mono16", 1, 2, 4, data, is_bigendian=True)
    little = decode_raw("mono16", 1, 2, 4, data, is_bigendian=False)  # 0x3412 = 13330 -> 52
    np.testing.assert_array_equal(big[0, :, 0], [18, 255])
    np.testing.assert_array_equal(little[0, :, 0], [52, 255])


@pytest.mark.parametrize("padding", [0, 4])
@pytest.mark.parametrize("encoding", YUV)
def test_yuv422_round_trip(encoding: str, padding: int, rng) -> None:
    # 4:2:2 shares chroma between pixel pairs: give each pair one colour, away from clipping.
    pairs = rng.integers(40, 216, (HEIGHT, WIDTH // 2, 3), dtype=np.uint8)
    rgb = np.repeat(pairs, 2, axis=1)
    data, step = encode_raw(rgb, encoding, padding)
    decoded = decode_raw(encoding, HEIGHT, WIDTH, step, data)
    assert np.abs(decoded.astype(int) - rgb).max() <= 3


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("yuv422", [128, 235, 128, 16]),  # UYVY: U Y0 V Y1
        ("yuv422_yuy2", [235, 128, 16, 128]),  # YUYV: Y0 U Y1 V
    ],
)
def test_yuv422_byte_orders(encoding: str, data: list[int]) -> None:
    decoded = decode_raw(encoding, 1, 2, 4, bytes(data)).astype(int)
    assert (decoded[0, 0] >= 250).all()  # Y=235: white
    assert (decoded[0, 1] <= 5).all()  # Y=16: black


@pytest.mark.parametrize("padding", [0, 2])
@pytest.mark.parametrize("encoding", BAYER)
def test_bayer_patterns_demosaic_to_the_right_colour(encoding: str, padding: int) -> None:
    colour = np.array([200, 100, 30], dtype=np.uint8)  # distinct R, G, B catch a wrong pattern
    rgb = np.broadcast_to(colour, (8, 12, 3)).copy()
    data, step = encode_raw(rgb, encoding, padding)
    decoded = decode_raw(encoding, 8, 12, step, data)
    np.testing.assert_array_equal(decoded[2:-2, 2:-2], rgb[2:-2, 2:-2])


def test_bayer_mosaic_layout() -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    data, _ = encode_raw(rgb, "bayer_rggb8")
    assert list(data) == [10, 20, 20, 30]
    data, _ = encode_raw(rgb, "bayer_grbg8")
    assert list(data) == [20, 10, 30, 20]


def test_channel_order_from_known_bytes() -> None:
    assert decode_raw("bgr8", 1, 1, 3, bytes([0, 0, 255])).tolist() == [[[255, 0, 0]]]
    assert decode_raw("rgb8", 1, 1, 3, bytes([255, 0, 0])).tolist() == [[[255, 0, 0]]]
    assert decode_raw("bgra8", 1, 1, 4, bytes([1, 2, 3, 9])).tolist() == [[[3, 2, 1]]]
    assert decode_raw("rgba8", 1, 1, 4, bytes([1, 2, 3, 9])).tolist() == [[[1, 2, 3]]]
    assert decode_raw("mono8", 1, 1, 1, bytes([77])).tolist() == [[[77, 77, 77]]]


def test_padding_bytes_are_skipped() -> None:
    # Two rows of one rgb8 pixel, each followed by 2 padding bytes that must not leak in.
    data = bytes([1, 2, 3, 99, 99, 4, 5, 6, 99, 99])
    assert decode_raw("rgb8", 2, 1, 5, data).tolist() == [[[1, 2, 3]], [[4, 5, 6]]]


def test_accepts_every_buffer_type(rng) -> None:
    rgb = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    data, step = encode_raw(rgb, "bgr8")
    buffers = [
        data,
        bytearray(data),
        memoryview(data),
        array.array("B", data),  # rclpy's uint8[] field
        np.frombuffer(data, np.uint8),  # rosbags' uint8[] field
        list(data),
    ]
    for buffer in buffers:
        np.testing.assert_array_equal(decode_raw("bgr8", HEIGHT, WIDTH, step, buffer), rgb)


def test_unknown_encoding() -> None:
    message = _decode_error("16UC1", 2, 2, 4, bytes(8))
    assert "unsupported image encoding '16UC1'" in message and "rgb8" in message


def test_data_shorter_than_step_times_height() -> None:
    message = _decode_error("rgb8", 4, 4, 12, bytes(12 * 4 - 1))
    assert "47 bytes" in message and "step*height" in message


@pytest.mark.parametrize(("height", "width"), [(0, 4), (4, 0)])
def test_zero_size(height: int, width: int) -> None:
    assert "zero size" in _decode_error("rgb8", height, width, 12, bytes(64))


def test_step_smaller_than_a_row() -> None:
    assert "step 10 is less than" in _decode_error("rgb8", 2, 4, 10, bytes(64))


def test_yuv422_needs_an_even_width() -> None:
    assert "even width" in _decode_error("yuv422", 2, 3, 6, bytes(12))


# --- CompressedImage -------------------------------------------------------------------------


def _smooth(rng: np.random.Generator, height: int = 48, width: int = 64) -> np.ndarray:
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)


def _encode(rgb: np.ndarray, ext: str) -> bytes:
    ok, buffer = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buffer.tobytes()


def test_png_round_trip_is_exact(rng) -> None:
    rgb = _smooth(rng)
    np.testing.assert_array_equal(decode_compressed(_encode(rgb, ".png"), "png"), rgb)


def test_jpeg_round_trip(rng) -> None:
    rgb = _smooth(rng)
    decoded = decode_compressed(_encode(rgb, ".jpg"), "rgb8; jpeg compressed bgr8")
    assert decoded.shape == rgb.shape
    assert np.abs(decoded.astype(int) - rgb).mean() < 3  # lossy, but the colours are not swapped


def test_grey_png_becomes_rgb(rng) -> None:
    grey = _smooth(rng)[..., 0].copy()
    ok, buffer = cv2.imencode(".png", grey)
    assert ok
    decoded = decode_compressed(buffer.tobytes())
    assert decoded.shape == (*grey.shape, 3)
    np.testing.assert_array_equal(decoded[..., 1], grey)


def _compressed_error(data: bytes, format: str = "") -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_compressed(data, format)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_corrupt_jpeg_garbage() -> None:
    assert "cannot decode" in _compressed_error(b"\x00\x01garbage" * 30, "jpeg")


def test_corrupt_jpeg_truncated(rng) -> None:
    data = _encode(_smooth(rng, 96, 128), ".jpg")
    assert "corrupt JPEG" in _compressed_error(data[: len(data) // 2], "jpeg")


def test_corrupt_png_truncated(rng) -> None:
    data = _encode(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), ".png")
    assert "cannot decode" in _compressed_error(data[: len(data) // 2], "png")


def test_empty_and_depth_compressed_images() -> None:
    assert "empty" in _compressed_error(b"", "jpeg")
    assert "not supported" in _compressed_error(b"\x00" * 20, "16UC1; compressedDepth png")


def test_depth_and_data_encodings() -> None:
    for encoding in ("16UC1", "16SC1", "32SC1", "32FC1", "64FC1", "32fc1", " 16UC1 "):
        assert is_depth_encoding(encoding), encoding
    for encoding in ("rgb8", "mono16", "8UC1", "8UC3", "bayer_rggb8", "", "32"):
        assert not is_depth_encoding(encoding), encoding
    # a PNG of a 32-bit integer image (image_transport's format) is refused as data, not decoded
    png = _encode(np.zeros((4, 4, 3), np.uint8), ".png")
    assert "32sc1 is a depth/data image" in _compressed_error(png, "32SC1; png compressed")


def test_strided_rows_is_a_view_without_the_padding() -> None:
    data = bytearray(range(2 * 7))  # 2 rows of 5 bytes, 2 padding bytes each
    rows = strided_rows(data, 2, 5, 7)
    np.testing.assert_array_equal(rows, [[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]])
    assert np.shares_memory(rows, np.frombuffer(data, np.uint8))
    with pytest.raises(ImageDecodeError, match="too short"):
        strided_rows(data[:-1], 2, 5, 7)
    with pytest.raises(ImageDecodeError, match="step 4 is less than the 5 bytes of a row"):
        strided_rows(data, 2, 5, 4)


def test_jpeg_size_reads_the_frame_header(rng) -> None:
    rgb = _smooth(rng, 37, 53)
    for params in ([], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1], [cv2.IMWRITE_JPEG_OPTIMIZE, 1]):
        ok, jpeg = cv2.imencode(".jpg", rgb, params)
        assert ok and jpeg_size(jpeg.reshape(-1)) == (37, 53)
    for path in image_files(sample_frames_dir()):  # camera JPEGs with their APP segments
        header = jpeg_size(np.fromfile(path, np.uint8))
        assert header == cv2.imread(str(path)).shape[:2], path
    assert jpeg_size(np.frombuffer(_encode(rgb, ".png"), np.uint8)) is None
    assert jpeg_size(np.frombuffer(b"\xff\xd8\xff\xda garbage", np.uint8)) is None
    assert jpeg_size(np.frombuffer(b"\xff\xd8\xff", np.uint8)) is None


@pytest.mark.parametrize(
    ("min_hw", "factor"),
    [((270, 480), 2), ((135, 240), 4), ((68, 120), 8), ((271, 480), 1), ((270, 481), 1),
     ((540, 960), 1), ((1080, 1920), 1), ((10, 10), 8)],
)  # fmt: skip
def test_jpeg_reduction_keeps_at_least_min_hw(min_hw: tuple[int, int], factor: int) -> None:
    jpeg = np.fromfile(sample_frames_dir() / "solidWhiteCurve.jpg", np.uint8)  # 540x960
    assert jpeg_reduction(jpeg, min_hw) == factor
    decoded = decode_compressed(jpeg, "jpeg", min_hw)
    # libjpeg's scaled size: ceil(side / factor)
    assert decoded.shape == (-(-540 // factor), -(-960 // factor), 3)
    assert decoded.shape[0] >= min(min_hw[0], 540) and decoded.shape[1] >= min(min_hw[1], 960)


@pytest.mark.parametrize("min_hw", [(270, 480), (135, 240)])
def test_reduced_jpeg_decode_is_nearly_full_decode_and_resize(min_hw: tuple[int, int]) -> None:
    for path in image_files(sample_frames_dir()):
        data = path.read_bytes()
        full = decode_compressed(data, "jpeg")
        reduced = decode_compressed(data, "jpeg", min_hw)
        factor = full.shape[0] // reduced.shape[0]  # 2 or 4 for 540x960, 2 for 720x1280
        assert factor > 1 and reduced.shape == (full.shape[0] // factor, full.shape[1] // factor, 3)
        assert reduced.shape[0] >= min_hw[0] and reduced.shape[1] >= min_hw[1]
        difference = np.abs(reduced.astype(int) - resize_to(full, reduced.shape[:2]))
        assert difference.mean() < 0.5, path  # measured 0.17-0.25
        assert np.percentile(difference, 99) <= 2, path


def test_full_size_decode_without_min_hw_and_for_png(rng) -> None:
    rgb = _smooth(rng, 96, 128)
    jpeg = _encode(rgb, ".jpg")
    assert decode_compressed(jpeg, "jpeg").shape == (96, 128, 3)
    assert decode_compressed(jpeg, "jpeg", None).shape == (96, 128, 3)
    np.testing.assert_array_equal(decode_compressed(_encode(rgb, ".png"), "png", (12, 16)), rgb)
