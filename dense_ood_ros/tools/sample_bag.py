"""Write a camera bag to try the replay on: the bundled sample frames with their labels, or a
folder of your own photos.

The bag (rosbag2, MCAP by default) holds the frames on /camera/image_raw as bgr8
sensor_msgs/Image (or JPEG CompressedImage on /camera/image_raw/compressed with
--compressed), stamped at --fps from a fixed start time with frame_id "camera", and with
--with-labels their anomaly labels as mono8 Images (0 inlier, 1 anomaly, 255 void) on
/camera/anomaly_labels with the same stamps. Frames repeat in order up to --frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dense_ood_ros.codec.image_codec import IMAGE_FILE_SUFFIXES, image_files
from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.errors import DenseOodError

CAMERA_TOPIC = "/camera/image_raw"
LABELS_TOPIC = "/camera/anomaly_labels"
FRAME_ID = "camera"
START_NS = 1_700_000_000 * 1_000_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.replay.bag_output import STORAGES

    parser.add_argument("output", type=Path, metavar="OUT", help="bag folder to write")
    parser.add_argument(
        "--frames", type=int, default=None, help="frames to write (default: each image once)"
    )
    parser.add_argument("--fps", type=float, default=10.0, help="camera rate for the stamps")
    parser.add_argument("--storage", choices=STORAGES, default="mcap", help="bag storage")
    parser.add_argument(
        "--compressed", action="store_true", help="JPEG CompressedImage instead of raw bgr8"
    )
    parser.add_argument(
        "--with-labels", action="store_true", help=f"add the anomaly labels on {LABELS_TOPIC}"
    )
    parser.add_argument(
        "--from-images",
        type=Path,
        default=None,
        metavar="DIR",
        help="wrap these photos instead of the bundled sample frames (labels: DIR/labels/*.png)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT bag")


class SampleBagError(DenseOodError, ValueError):
    """The frames or labels for a sample bag are missing or do not fit together."""


def frames_and_labels(folder: Path, with_labels: bool) -> list[tuple[Path, Path | None]]:
    """(image, label or None) pairs of a folder; labels are labels/<stem>.png beside them."""
    images = image_files(folder)
    if not images:
        raise SampleBagError(f"{folder} holds no {'/'.join(IMAGE_FILE_SUFFIXES)} images")
    pairs = []
    for image in images:
        label = folder / "labels" / f"{image.stem}.png"
        if with_labels and not label.is_file():
            raise SampleBagError(f"--with-labels: no label {label} for {image.name}")
        pairs.append((image, label if with_labels else None))
    return pairs


def write_sample_bag(
    output: Path,
    pairs: list[tuple[Path, Path | None]],
    frames: int,
    fps: float,
    storage: str = "mcap",
    compressed: bool = False,
) -> int:
    """Write the bag; returns the number of camera frames written."""
    import cv2
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from dense_ood_ros.codec.image_codec import read_rgb
    from dense_ood_ros.codec.messages import COMPRESSED, IMAGE, build_image
    from dense_ood_ros.topics import COMPRESSED_SUFFIX

    typestore = get_typestore(Stores.ROS2_HUMBLE)
    types = typestore.types
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    kind = COMPRESSED if compressed else IMAGE
    topic = f"{CAMERA_TOPIC}/{COMPRESSED_SUFFIX}" if compressed else CAMERA_TOPIC
    loaded = [(read_rgb(image), _read_label(label)) for image, label in pairs]
    with Writer(output, version=9, storage_plugin=plugin) as writer:
        camera = writer.add_connection(topic, kind, typestore=typestore)
        labels = None
        if any(label is not None for _, label in loaded):
            labels = writer.add_connection(LABELS_TOPIC, IMAGE, typestore=typestore)
        for index in range(frames):
            rgb, label = loaded[index % len(loaded)]
            stamp = START_NS + round(index * 1e9 / fps)
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](
                    sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000
                ),
                frame_id=FRAME_ID,
            )
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            if compressed:
                _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
                msg = types[kind](
                    header=header, format="bgr8; jpeg compressed bgr8", data=jpeg.reshape(-1)
                )
            else:
                msg = build_image(types[IMAGE], bgr, "bgr8", header)
            writer.write(camera, stamp, typestore.serialize_cdr(msg, kind))
            if labels is not None and label is not None:
                msg = build_image(types[IMAGE], label, "mono8", header)
                writer.write(labels, stamp, typestore.serialize_cdr(msg, IMAGE))
    return frames


def _read_label(path: Path | None) -> np.ndarray | None:
    """A mono8 label picture (0 inlier, 1 anomaly, 255 void), or None without one."""
    if path is None:
        return None
    import cv2

    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None or label.ndim != 2 or label.dtype != np.uint8:
        raise SampleBagError(f"{path}: not a single-channel 8-bit label PNG")
    return label


def run(args: argparse.Namespace) -> int:
    from dense_ood_ros.model.bundled import sample_frames_dir
    from dense_ood_ros.tools.replay import prepare_output_bag

    if args.frames is not None and args.frames <= 0:
        raise CommandError("--frames must be > 0")
    if args.fps <= 0:
        raise CommandError("--fps must be > 0")
    folder = args.from_images or sample_frames_dir()
    if not folder.is_dir():
        raise SampleBagError(f"{folder} is not a folder of images")
    pairs = frames_and_labels(folder, args.with_labels)
    prepare_output_bag(args.output, args.overwrite)
    frames = write_sample_bag(
        args.output, pairs, args.frames or len(pairs), args.fps, args.storage, args.compressed
    )
    topics = f"{CAMERA_TOPIC}{'/compressed' if args.compressed else ''}"
    if args.with_labels:
        topics += f" and {LABELS_TOPIC}"
    print(f"wrote {args.output}: {frames} frames of {folder} on {topics} at {args.fps:g} Hz")
    return 0
