"""Write a fleet of small camera bags to try `dense-ood replay --workers N` on.

    .venv/bin/python scripts/make_fleet.py OUT [--bags 12] [--frames 10] [--scale 0.25]

OUT/day<k>/drive_<i> holds the bundled sample frames (downscaled by --scale) on two cameras:
/cam_front/image_raw (bgr8 Image, with mono8 anomaly labels on /cam_front/anomaly_labels) and
/cam_rear/image_raw/compressed (JPEG, no labels), same stamps. Half the bags are SQLite3
folders, a quarter MCAP folders and a quarter lone .mcap files. Replay with
`--labels-topic /cam_front/anomaly_labels`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np

from dense_ood_ros.codec.image_codec import read_rgb
from dense_ood_ros.model.bundled import sample_frames_dir
from dense_ood_ros.tools.sample_bag import frames_and_labels

FRONT, REAR = "/cam_front/image_raw", "/cam_rear/image_raw/compressed"
LABELS = "/cam_front/anomaly_labels"
IMAGE, COMPRESSED = "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"
START_NS = 1_700_000_000 * 1_000_000_000


def scaled_samples(scale: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB, label) of each bundled sample, resized by `scale` (labels by nearest neighbour)."""
    out = []
    for image, label_path in frames_and_labels(sample_frames_dir(), with_labels=True):
        rgb = read_rgb(image)
        label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        out.append((cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
                    cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)))  # fmt: skip
    return out


def _image(types, header, pixels: np.ndarray, encoding: str):
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    return types[IMAGE](header=header, height=pixels.shape[0], width=pixels.shape[1],
                        encoding=encoding, is_bigendian=0, step=pixels.shape[1] * channels,
                        data=np.ascontiguousarray(pixels).reshape(-1))  # fmt: skip


def write_drive(path: Path, samples, frames: int, offset: int, storage: str) -> None:
    """One two-camera bag of `frames` frames per camera, starting at sample `offset`."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        front = writer.add_connection(FRONT, IMAGE, typestore=store)
        labels = writer.add_connection(LABELS, IMAGE, typestore=store)
        rear = writer.add_connection(REAR, COMPRESSED, typestore=store)
        for index in range(frames):
            rgb, label = samples[(offset + index) % len(samples)]
            stamp = START_NS + index * 100_000_000
            time = types["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9)
            header = types["std_msgs/msg/Header"](stamp=time, frame_id="cam_front")
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            writer.write(
                front, stamp, store.serialize_cdr(_image(types, header, bgr, "bgr8"), IMAGE)
            )
            writer.write(
                labels, stamp, store.serialize_cdr(_image(types, header, label, "mono8"), IMAGE)
            )
            rear_rgb, _ = samples[(offset + index + 3) % len(samples)]
            _, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(rear_rgb[..., ::-1]))
            rear_header = types["std_msgs/msg/Header"](stamp=time, frame_id="cam_rear")
            msg = types[COMPRESSED](header=rear_header, format="jpeg", data=jpeg.reshape(-1))
            writer.write(rear, stamp, store.serialize_cdr(msg, COMPRESSED))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="fleet folder to write (replaced)")
    parser.add_argument("--bags", type=int, default=12, help="number of bags")
    parser.add_argument("--frames", type=int, default=10, help="frames per camera and bag")
    parser.add_argument("--scale", type=float, default=0.25, help="resize the sample frames")
    args = parser.parse_args()
    if args.output.exists():
        shutil.rmtree(args.output)
    samples = scaled_samples(args.scale)
    for index in range(args.bags):
        folder = args.output / f"day{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        storage = "mcap" if index % 4 in (0, 3) else "sqlite3"
        path = folder / f"drive_{index:02d}"
        write_drive(path, samples, args.frames, index, storage)
        if index % 4 == 3:  # a lone .mcap file
            lone = next(path.glob("*.mcap"))
            lone.rename(folder / f"clip_{index:02d}.mcap")
            shutil.rmtree(path)
    print(f"wrote {args.bags} bags of 2 cameras x {args.frames} frames under {args.output}")


if __name__ == "__main__":
    main()
