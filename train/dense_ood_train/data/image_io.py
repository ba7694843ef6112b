"""Image and label files through OpenCV, with RGB/BGR kept straight in one place.

cv2 reads and writes colour images in BGR order; everything else in this project is RGB.
Labels are single-channel uint8 PNGs (lossless), read unchanged.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dense_ood_ros.codec.image_codec import read_rgb as read_rgb  # re-exported: one reader
from dense_ood_ros.errors import DenseOodError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class DatasetError(DenseOodError, ValueError):
    """A dataset, image or label is missing, unreadable or not in the expected layout."""


def write_rgb(path: str | Path, rgb: np.ndarray) -> None:
    """RGB uint8 [H, W, 3] -> image file (format from the suffix)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise DatasetError(f"expected uint8 [H, W, 3], got {rgb.dtype} {rgb.shape}")
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write image {path}")


def read_label(path: str | Path) -> np.ndarray:
    """Single-channel label PNG -> uint8 [H, W] (a colour file is refused, not converted)."""
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise OSError(f"cannot read label {path}")
    if label.ndim != 2:
        raise OSError(
            f"label {path} has {label.shape[2]} channels; expected one (ids, not colours)"
        )
    if label.dtype != np.uint8:
        if label.max() > 255:
            raise OSError(f"label {path} has values above 255")
        label = label.astype(np.uint8)
    return label


def write_label(path: str | Path, label: np.ndarray) -> None:
    """uint8 [H, W] -> lossless PNG."""
    if label.ndim != 2 or label.dtype != np.uint8:
        raise DatasetError(f"expected uint8 [H, W], got {label.dtype} {label.shape}")
    if Path(path).suffix.lower() != ".png":
        raise DatasetError(f"labels must be written as PNG, got {path}")
    if not cv2.imwrite(str(path), label):
        raise OSError(f"cannot write label {path}")


def list_images(directory: str | Path, recursive: bool = False) -> list[Path]:
    """Image files in a directory, sorted by path."""
    directory = Path(directory)
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in directory.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
