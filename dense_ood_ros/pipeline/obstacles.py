"""Anomaly obstacles out of one frame's mask, ROS-free: the connected components of the
thresholded anomaly mask at the model's resolution, each with its box and area in camera
pixels, its scores, what it stands on, and the lowest pixel of each of its columns (where it
touches the ground). `pipeline.ground` places them on the ground plane.

OpenCV does the work (`morphologyEx` for the opening, `connectedComponentsWithStats` for the
components and their boxes in one pass), so a mask of thousands of specks costs one pass and
at most `max_count` obstacles are described.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.metrics.obstacle_metrics import column_bottoms


class ObstacleSettingsError(DenseOodError, ValueError):
    """Obstacle settings that cannot be used (a negative size, no room for one obstacle)."""


@dataclass(frozen=True)
class ObstacleSettings:
    """How obstacles are cut out of the mask. `min_pixels` and `opening_px` are at the model's
    resolution, where the components are found."""

    min_pixels: int = 64  # smaller components are dropped (after the opening)
    max_count: int = 32  # at most this many obstacles per frame, the largest first
    opening_px: int = 3  # side of the square opening that removes specks; 1 = none

    def __post_init__(self) -> None:
        if self.min_pixels < 1 or self.max_count < 1 or self.opening_px < 1:
            raise ObstacleSettingsError(
                "obstacle settings need min_pixels >= 1, max_count >= 1 and opening_px >= 1, "
                f"got {self.min_pixels}, {self.max_count}, {self.opening_px}"
            )


@dataclass(frozen=True)
class ImageObstacle:
    """One anomalous component, in camera pixels."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), camera pixels
    area_px: int  # camera pixels (the model-resolution count, scaled)
    max_score: float
    mean_score: float
    stands_on: str  # the class most often just below its lowest pixels ("" when none)
    around: tuple[str, ...]  # classes in a ring around it, the most frequent first
    contact_uv: np.ndarray  # float64 [K, 2]: (u, v) of each column's lowest pixel, camera px


def extract_obstacles(
    mask: np.ndarray,
    score: np.ndarray,
    semantic: np.ndarray,
    class_names: tuple[str, ...] | list[str],
    camera_hw: tuple[int, int],
    settings: ObstacleSettings,
) -> list[ImageObstacle]:
    """The obstacles of one frame from its model-resolution `mask` (uint8, nonzero =
    anomalous), `score` (float32) and `semantic` (uint8 trainIds); coordinates are mapped to a
    camera frame of `camera_hw` (height, width)."""
    binary: np.ndarray = mask if mask.dtype == np.uint8 else (mask > 0).astype(np.uint8)
    if settings.opening_px > 1:
        kernel = np.ones((settings.opening_px, settings.opening_px), np.uint8)
        binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    kept = np.flatnonzero(areas >= settings.min_pixels) + 1
    kept = kept[np.argsort(-stats[kept, cv2.CC_STAT_AREA], kind="stable")][: settings.max_count]
    scale = _Scale(mask.shape[:2], camera_hw)
    return [
        _describe(int(label), labels, stats[label], score, semantic, class_names, scale)
        for label in kept
    ]


@dataclass(frozen=True)
class _Scale:
    """Model pixels -> camera pixels (pixel centres map to pixel centres)."""

    model_hw: tuple[int, int]
    camera_hw: tuple[int, int]

    @property
    def sy(self) -> float:
        return self.camera_hw[0] / self.model_hw[0]

    @property
    def sx(self) -> float:
        return self.camera_hw[1] / self.model_hw[1]

    def uv(self, columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Camera (u, v) of model pixels: column centres, rows' lower edges (the ground contact
        is the bottom of the lowest pixel)."""
        u = (columns + 0.5) * self.sx - 0.5
        v = (rows + 1.0) * self.sy - 0.5
        return np.stack([u, v], axis=1).astype(np.float64)

    def box(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
        x0, y0 = int(np.floor(x * self.sx)), int(np.floor(y * self.sy))
        x1, y1 = int(np.ceil((x + w) * self.sx)), int(np.ceil((y + h) * self.sy))
        return x0, y0, min(x1, self.camera_hw[1]), min(y1, self.camera_hw[0])


def _describe(
    label: int,
    labels: np.ndarray,
    stat: np.ndarray,
    score: np.ndarray,
    semantic: np.ndarray,
    class_names: tuple[str, ...] | list[str],
    scale: _Scale,
) -> ImageObstacle:
    """One component's box, area, scores, ground contact and neighbouring classes."""
    x, y, w, h, area = (int(v) for v in stat[:5])
    inside = labels[y : y + h, x : x + w] == label
    values = score[y : y + h, x : x + w][inside]
    columns, rows = column_bottoms(inside)
    rows = rows + y
    return ImageObstacle(
        box=scale.box(x, y, w, h),
        area_px=round(area * scale.sx * scale.sy),
        max_score=float(values.max()),
        mean_score=float(values.mean()),
        stands_on=_stands_on(semantic, labels, columns + x, rows, class_names),
        around=_around(semantic, labels, (x, y, w, h), class_names),
        contact_uv=scale.uv(columns + x, rows),
    )


def _stands_on(
    semantic: np.ndarray,
    labels: np.ndarray,
    columns: np.ndarray,
    rows: np.ndarray,
    class_names: tuple[str, ...] | list[str],
) -> str:
    """The most frequent class of the first non-anomalous pixels below the contact points."""
    below = np.minimum(rows + 2, semantic.shape[0] - 1)
    free = labels[below, columns] == 0
    names = _most_frequent(semantic[below[free], columns[free]], class_names, 1)
    return names[0] if names else ""


def _around(
    semantic: np.ndarray,
    labels: np.ndarray,
    box: tuple[int, int, int, int],
    class_names: tuple[str, ...] | list[str],
    margin: int = 4,
) -> tuple[str, ...]:
    """Up to three classes of the non-anomalous pixels in the `margin`-wide frame around the
    component's box (its four sides only: the cost grows with the box's perimeter, not area)."""
    x, y, w, h = box
    height, width = semantic.shape
    y0, y1 = max(y - margin, 0), min(y + h + margin, height)
    x0, x1 = max(x - margin, 0), min(x + w + margin, width)
    strips = [(slice(y0, y), slice(x0, x1)), (slice(y + h, y1), slice(x0, x1)),
              (slice(y, y + h), slice(x0, x)), (slice(y, y + h), slice(x + w, x1))]  # fmt: skip
    ids = [semantic[s][labels[s] == 0] for s in strips]
    return tuple(_most_frequent(np.concatenate(ids), class_names, 3))


def _most_frequent(ids: np.ndarray, class_names: tuple[str, ...] | list[str], n: int) -> list[str]:
    """Names of the `n` most frequent trainIds in `ids` (ids outside the names are skipped)."""
    counts = np.bincount(ids.ravel(), minlength=len(class_names))[: len(class_names)]
    order = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    return [class_names[i] for i in order[:n]]
