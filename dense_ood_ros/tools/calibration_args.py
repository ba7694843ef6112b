"""The calibration options that `quantize` and `build-engine` share, and the set they load."""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.engine.calibration import DEFAULT_FRAMES, CalibrationSet
from dense_ood_ros.replay.calibration_frames import load_calibration_set


def add_calibration_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    """--calibration-dir | --calibration-bag, --frames, --topics."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument(
        "--calibration-dir",
        type=Path,
        metavar="DIR",
        help="folder of camera pictures (.png/.jpg/.bmp/.webp) from the domain the model will see; "
        "inlier scenes, not the test set",
    )
    source.add_argument(
        "--calibration-bag",
        type=Path,
        metavar="BAG",
        help="a recorded bag (rosbag2 or ROS 1) whose camera frames calibrate the ranges",
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        metavar="N",
        help="calibration frames, spread evenly over the folder or the bag",
    )
    parser.add_argument(
        "--topics",
        nargs="+",
        default=None,
        metavar="T",
        help="camera topics of --calibration-bag (default: every Image and CompressedImage "
        "topic; name the cameras when the bag also holds a labels topic)",
    )


def load_from_args(args: argparse.Namespace, input_hw: tuple[int, int]) -> CalibrationSet:
    """The calibration frames the options name, preprocessed for a model of `input_hw`."""
    return load_calibration_set(
        input_hw,
        directory=args.calibration_dir,
        bag=args.calibration_bag,
        frames=args.frames,
        topics=args.topics,
    )
