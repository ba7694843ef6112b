"""Calibration frames for INT8: camera frames from a folder or a bag, as the node preprocesses them.

ONNX Runtime's static quantization (`dense-ood quantize`) and TensorRT's INT8 calibrator
(`dense-ood build-engine --precision int8`) both read them from here, so the activation ranges
are measured on exactly what the engine sees on the vehicle: decoded as the node decodes
(`codec.messages`), resized to the model's input with the pipeline's own `resize_to`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dense_ood_ros.codec.image_codec import IMAGE_FILE_SUFFIXES, image_files, read_rgb
from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.pipeline.frame_pipeline import resize_to

#: Enough for stable ranges of a segmenter's activations, and a minute or two of calibration.
DEFAULT_FRAMES = 64


class CalibrationError(DenseOodError, ValueError):
    """No usable calibration frames: a missing folder or bag, no pictures, too few frames."""


@dataclass
class CalibrationSet:
    """Model-input frames (uint8 [H, W, 3] RGB each) and where they came from."""

    frames: list[np.ndarray]
    source: str
    counts: dict[str, int] = field(default_factory=dict)  # topic or folder -> frames taken

    def batches(self, batch_size: int = 1) -> Iterator[np.ndarray]:
        """The frames as uint8 [N, H, W, 3] batches, the engine's input (last one may be short)."""
        for start in range(0, len(self.frames), batch_size):
            yield np.stack(self.frames[start : start + batch_size])

    def describe(self) -> str:
        where = ", ".join(f"{name}: {count}" for name, count in self.counts.items())
        return f"{len(self.frames)} frames from {self.source} ({where})"


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
    if frames < 1:
        raise CalibrationError(f"the number of calibration frames must be positive, got {frames}")
    if directory is not None:
        return _from_directory(directory, input_hw, frames)
    assert bag is not None
    return _from_bag(bag, input_hw, frames, topics)


def evenly_spaced(total: int, wanted: int) -> list[int]:
    """`wanted` indices spread over range(total) (all of them when there are fewer)."""
    if total <= wanted:
        return list(range(total))
    return [int(i) for i in np.linspace(0, total - 1, wanted).round()]


def _from_directory(directory: Path, input_hw: tuple[int, int], wanted: int) -> CalibrationSet:
    if not directory.is_dir():
        raise CalibrationError(f"no calibration folder at {directory}")
    files = image_files(directory)
    if not files:
        raise CalibrationError(f"{directory} holds no {'/'.join(IMAGE_FILE_SUFFIXES)} pictures")
    chosen = [files[i] for i in evenly_spaced(len(files), wanted)]
    try:
        frames = [resize_to(read_rgb(path), input_hw) for path in chosen]
    except OSError as exc:
        raise CalibrationError(str(exc)) from exc
    return CalibrationSet(frames, str(directory), {directory.name: len(frames)})


def _from_bag(
    bag: Path, input_hw: tuple[int, int], wanted: int, topics: Sequence[str] | None
) -> CalibrationSet:
    """Frames spread over the bag in log order. Only the picked messages are decoded; depth
    and undecodable ones are skipped."""
    from dense_ood_ros.codec.image_codec import ImageDecodeError
    from dense_ood_ros.replay.bag_input import BagError, BagReader, camera_topics, is_depth
    from dense_ood_ros.replay.session import decode_frame

    frames: list[np.ndarray] = []
    counts: dict[str, int] = {}
    try:
        with BagReader(bag) as reader:
            chosen = camera_topics(reader, topics)
            picks = set(evenly_spaced(reader.count(chosen), wanted))
            for index, frame in enumerate(reader.messages(chosen)):
                if index not in picks or is_depth(frame.msg, frame.msgtype):
                    continue
                try:
                    frames.append(resize_to(decode_frame(frame), input_hw))
                except ImageDecodeError:
                    continue
                counts[frame.topic] = counts.get(frame.topic, 0) + 1
    except BagError as exc:
        raise CalibrationError(str(exc)) from exc
    if not frames:
        raise CalibrationError(f"{bag}: no decodable camera frame on {', '.join(chosen)}")
    return CalibrationSet(frames, str(bag), counts)
