"""What every mode of `dense-ood bench` shares: its error, the camera frames it times, and the
one --json writer (timing statistics come from dense_ood_ros.metrics.latency)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_ros.errors import DenseOodError


class BenchError(DenseOodError, ValueError):
    """The bench cannot run as asked (arguments, an unreadable image)."""


def synthetic_frame(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, scene-like RGB frame (random colour field enlarged), same for every run."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def load_frame(path: Path, height: int, width: int) -> np.ndarray:
    """The picture at `path` as an RGB frame of `height` x `width` (a one-line OSError if it
    cannot be read)."""
    import cv2

    from dense_ood_ros.codec.image_codec import read_rgb

    rgb = read_rgb(path)
    interpolation = cv2.INTER_AREA if rgb.shape[0] >= height else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interpolation)


def camera_frame(image: Path | None, height: int, width: int, seed: int = 0) -> np.ndarray:
    """The frame a mode times: from --image where given, else synthetic."""
    return load_frame(image, height, width) if image else synthetic_frame(height, width, seed)
