"""Calibration frames for INT8: camera frames as the node preprocesses them, for the quantizers.

ONNX Runtime's static quantization (`dense-ood quantize`) and TensorRT's INT8 calibrator
(`dense-ood build-engine --precision int8`) both take a `CalibrationSet`, so the activation
ranges are measured on exactly what the engine sees on the vehicle: resized to the model's
input with the pipeline's own `resize_to`. Frames come from a folder of pictures
(`from_directory`) or, decoded as the node decodes them, from a bag
(`dense_ood_ros.replay.calibration_frames`); frames that cannot be used are counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dense_ood_ros.codec.image_codec import IMAGE_FILE_SUFFIXES, image_files, read_rgb
from dense_ood_ros.codec.resize import resize_to
from dense_ood_ros.errors import DenseOodError

#: Enough for stable ranges of a segmenter's activations, and a minute or two of calibration.
DEFAULT_FRAMES = 64


class CalibrationError(DenseOodError, ValueError):
    """No usable calibration frames: a missing folder or bag, no pictures, too few frames."""


@dataclass
class CalibrationSet:
    """Model-input frames (uint8 [H, W, 3] RGB each), where they came from, and the frames
    picked but skipped (reason -> count)."""

    frames: list[np.ndarray]
    source: str
    counts: dict[str, int] = field(default_factory=dict)  # topic or folder -> frames taken
    skipped: Counter = field(default_factory=Counter)  # reason -> frames not used

    def batches(self, batch_size: int = 1) -> Iterator[np.ndarray]:
        """The frames as uint8 [N, H, W, 3] batches, the engine's input (last one may be short)."""
        for start in range(0, len(self.frames), batch_size):
            yield np.stack(self.frames[start : start + batch_size])

    def describe(self) -> str:
        where = ", ".join(f"{name}: {count}" for name, count in self.counts.items())
        text = f"{len(self.frames)} frames from {self.source} ({where})"
        if self.skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in self.skipped.items())
            text += f"; skipped {sum(self.skipped.values())} ({reasons})"
        return text


def calibration_set(
    source: str, frames: Iterable[tuple[str, np.ndarray | str]], input_hw: tuple[int, int]
) -> CalibrationSet:
    """The set of `frames`, each (where it came from, RGB or the reason it is skipped), resized
    to `input_hw`; CalibrationError when none is usable."""
    calibration = CalibrationSet([], source)
    for where, rgb in frames:
        if isinstance(rgb, str):
            calibration.skipped[rgb.split(":")[0]] += 1
            continue
        calibration.frames.append(resize_to(rgb, input_hw))
        calibration.counts[where] = calibration.counts.get(where, 0) + 1
    if not calibration.frames:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in calibration.skipped.items())
        raise CalibrationError(
            f"{source}: no usable calibration frame" + (f" (skipped {reasons})" if reasons else "")
        )
    return calibration


def evenly_spaced(total: int, wanted: int) -> list[int]:
    """`wanted` indices spread over range(total) (all of them when there are fewer)."""
    if total <= wanted:
        return list(range(total))
    return [int(i) for i in np.linspace(0, total - 1, wanted).round()]


def check_frame_count(frames: int) -> None:
    """CalibrationError unless `frames` is positive."""
    if frames < 1:
        raise CalibrationError(f"the number of calibration frames must be positive, got {frames}")


def from_directory(
    directory: Path, input_hw: tuple[int, int], frames: int = DEFAULT_FRAMES
) -> CalibrationSet:
    """Up to `frames` pictures spread evenly over `directory` (in name order)."""
    check_frame_count(frames)
    if not directory.is_dir():
        raise CalibrationError(f"no calibration folder at {directory}")
    files = image_files(directory)
    if not files:
        raise CalibrationError(f"{directory} holds no {'/'.join(IMAGE_FILE_SUFFIXES)} pictures")
    chosen = [files[i] for i in evenly_spaced(len(files), frames)]
    pictures = ((directory.name, read_rgb(path)) for path in chosen)  # one at a time
    try:
        return calibration_set(str(directory), pictures, input_hw)
    except OSError as exc:
        raise CalibrationError(str(exc)) from exc
