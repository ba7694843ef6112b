"""What every benchmark reader yields: frames with an RGB image and 0/1/255 anomaly labels.

Anomaly labels: 0 = inlier, 1 = anomaly, 255 = void (not scored). Semantic labels, where a
benchmark has them, are Cityscapes trainIds (255 = ignore) for inlier mIoU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dense_ood_ros.metrics import check_anomaly_labels
from dense_ood_train.data.image_io import DatasetError, read_label, read_rgb
from dense_ood_train.data.labels import CITYSCAPES_CLASS_NAMES

VOID = 255
TRACKS = ("anomaly", "obstacle")


class BenchmarkError(DatasetError):
    """A benchmark is unknown, misconfigured or not in its published layout."""


@dataclass
class BenchmarkFrame:
    name: str
    image: np.ndarray  # uint8 [H, W, 3] RGB
    anomaly: np.ndarray | None  # uint8 [H, W]: 0 inlier, 1 anomaly, 255 void
    semantic: np.ndarray | None = None  # uint8 [H, W] trainIds, 255 ignore


class Benchmark:
    """A sized, indexable, iterable sequence of BenchmarkFrame.

    `track` is the SegmentMeIfYouCan component-metric track ("anomaly" or "obstacle") that the
    benchmark's protocol uses, or None where only pixel metrics are defined.
    """

    name: str = ""
    track: str | None = None
    #: what the ids of `BenchmarkFrame.semantic` mean: mIoU is computed only for a model with
    #: these class names (Cityscapes trainIds unless a reader says otherwise)
    semantic_classes: tuple[str, ...] | None = CITYSCAPES_CLASS_NAMES

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> BenchmarkFrame:
        raise NotImplementedError

    def __iter__(self) -> Iterator[BenchmarkFrame]:
        for i in range(len(self)):
            yield self[i]


@dataclass(frozen=True)
class FileItem:
    """One frame on disk: its image, and the label files that exist for it."""

    name: str
    image: Path
    anomaly: Path | None = None
    semantic: Path | None = None


class FileBenchmark(Benchmark):
    """Frames read lazily from files; `anomaly_map` turns a raw label image into 0/1/255 and
    `semantic_map` a raw semantic label into trainIds."""

    def __init__(
        self,
        name: str,
        items: Sequence[FileItem],
        anomaly_map: Callable[[np.ndarray], np.ndarray] | None = None,
        semantic_map: Callable[[np.ndarray], np.ndarray] | None = None,
        track: str | None = None,
        semantic_classes: tuple[str, ...] | None = CITYSCAPES_CLASS_NAMES,
    ) -> None:
        if not items:
            raise FileNotFoundError(f"{name}: no frames found")
        if track is not None and track not in TRACKS:
            raise BenchmarkError(f"track must be one of {TRACKS} or None, got {track!r}")
        self.name = name
        self.items = list(items)
        self.anomaly_map = anomaly_map
        self.semantic_map = semantic_map
        self.track = track
        self.semantic_classes = semantic_classes

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> BenchmarkFrame:
        item = self.items[index]
        image = read_rgb(item.image)
        anomaly = semantic = None
        if item.anomaly is not None:
            anomaly = read_label(item.anomaly)
            if self.anomaly_map is not None:
                anomaly = self.anomaly_map(anomaly)
            _check_size(item.anomaly, anomaly, image)
        if item.semantic is not None:
            semantic = read_label(item.semantic)
            if self.semantic_map is not None:
                semantic = self.semantic_map(semantic)
            _check_size(item.semantic, semantic, image)
        return BenchmarkFrame(item.name, image, anomaly, semantic)


def _check_size(path: Path, label: np.ndarray, image: np.ndarray) -> None:
    if label.shape != image.shape[:2]:
        raise OSError(f"{path.name}: label size {label.shape} != image size {image.shape[:2]}")


def lut_map(
    table: dict[int, int] | np.ndarray, default: int = VOID
) -> Callable[[np.ndarray], np.ndarray]:
    """A label mapping through a 256-entry lookup table (dict entries, others `default`)."""
    if isinstance(table, np.ndarray):
        lut = table.astype(np.uint8)
    else:
        lut = np.full(256, default, dtype=np.uint8)
        for src, dst in table.items():
            lut[src] = dst

    def apply(label: np.ndarray) -> np.ndarray:
        return lut[label]

    return apply


def check_anomaly_values(label: np.ndarray) -> np.ndarray:
    """Labels already in 0/1/255: refuse anything else (a wrong folder, a colour mask)."""
    check_anomaly_labels(label, "anomaly label file", VOID)
    return label


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: folder {path} does not exist")
    return path
