"""INT8 calibration frames from a folder of pictures or from a recorded bag's cameras.

The bag's frames are decoded as the replay and the node decode them (`decode_camera_frame`);
depth images and undecodable frames are skipped and counted in the set's `skipped`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from dense_ood_ros.engine.calibration import (
    DEFAULT_FRAMES,
    CalibrationError,
    CalibrationSet,
    calibration_set,
    check_frame_count,
    evenly_spaced,
    from_directory,
)
from dense_ood_ros.replay.bag_input import BagError, BagReader, camera_topics, decode_camera_frame


def load_calibration_set(
    input_hw: tuple[int, int],
    directory: Path | None = None,
    bag: Path | None = None,
    frames: int = DEFAULT_FRAMES,
    topics: Sequence[str] | None = None,
) -> CalibrationSet:
    """Up to `frames` frames spread evenly over a folder of pictures or a bag's camera topics."""
    if (directory is None) == (bag is None):
        raise CalibrationError("give calibration frames as a folder or as a bag, one of the two")
    if directory is not None:
        return from_directory(directory, input_hw, frames)
    assert bag is not None
    return from_bag(bag, input_hw, frames, topics)


def from_bag(
    bag: Path,
    input_hw: tuple[int, int],
    frames: int = DEFAULT_FRAMES,
    topics: Sequence[str] | None = None,
) -> CalibrationSet:
    """Frames spread over the bag's camera topics (`topics`, default all) in log order; only
    the picked messages are decoded."""
    check_frame_count(frames)
    try:
        with BagReader(bag) as reader:
            chosen = camera_topics(reader, topics)
            picks = set(evenly_spaced(reader.count(chosen), frames))

            def picked() -> Iterator[tuple[str, np.ndarray | str]]:
                for index, frame in enumerate(reader.messages(chosen)):
                    if index in picks:
                        yield frame.topic, decode_camera_frame(frame)

            return calibration_set(str(bag), picked(), input_hw)
    except BagError as exc:
        raise CalibrationError(str(exc)) from exc
