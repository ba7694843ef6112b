"""Obstacle-level metrics against labelled frames: how many labelled anomaly components the
obstacles find, how many obstacles are false, both by distance band. numpy and OpenCV only
(no ROS, no pipeline: the obstacles come in as boxes and distances).

An obstacle's pixels are its box intersected with the frame's anomaly mask (the pipeline's
output mask, at the labels' resolution); where boxes overlap, a pixel belongs to the smaller
box. Labels are 0 inlier, 1 anomaly, 255 void; labelled anomaly components are the
8-connected components of label 1, those below `min_gt_size` pixels are voided (as SMIYC's
component metrics do), and only pixels in the region of interest (not void, not a voided
component) count.

- A labelled component is *found* when the obstacles touching it reach SMIYC's sIoU >=
  `match_siou` (0.25, the lowest SMIYC threshold) with it (`components.component_overlaps`,
  the same sIoU as the component metrics).
- An obstacle is *false* when none of its pixels lies in a labelled component; one with no
  pixel in the region of interest (wholly void) is counted apart, neither true nor false.
- Distance bands: a labelled component's distance is that of its nearest ground contact (the
  caller's `distance_of`, e.g. `pipeline.ground.place` through the camera), an obstacle's is
  the one its caller placed it at; without either, "unknown".

`ObstacleCounts` sums frames; counts of many bags add up (`merge`), and recall and false
obstacles per frame are recomputed from the sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dense_ood_ros.metrics.components import SIOU_THRESHOLDS, TRACK_SIZES, component_overlaps
from dense_ood_ros.metrics.frames import MetricsError, check_anomaly_labels

VOID = 255
#: sIoU from which a labelled component counts as found (the lowest SMIYC threshold).
MATCH_SIOU = float(SIOU_THRESHOLDS[0])
#: Distance bands (name, from metres, to metres); a distance d is in [from, to).
DISTANCE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<10 m", 0.0, 10.0),
    ("10-20 m", 10.0, 20.0),
    ("20-40 m", 20.0, 40.0),
    (">=40 m", 40.0, math.inf),
)
UNKNOWN = "unknown"
BAND_NAMES: tuple[str, ...] = (*(name for name, _, _ in DISTANCE_BANDS), UNKNOWN)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels of the labels


def band_of(distance_m: float | None) -> str:
    """The distance band of a distance (metres), "unknown" for None or NaN."""
    if distance_m is None or not math.isfinite(distance_m):
        return UNKNOWN
    for name, low, high in DISTANCE_BANDS:
        if low <= distance_m < high:
            return name
    return DISTANCE_BANDS[0][0]  # a negative distance (none from `place`): the nearest band


def obstacle_regions(mask: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """int32 [H, W]: i + 1 on the pixels of `mask` (nonzero) inside `boxes[i]`, 0 elsewhere;
    where boxes overlap, the smaller box's obstacle has the pixel."""
    regions = np.zeros(mask.shape[:2], np.int32)
    areas = [max(0, x1 - x0) * max(0, y1 - y0) for x0, y0, x1, y1 in boxes]
    for index in sorted(range(len(boxes)), key=lambda i: -areas[i]):  # the smallest last
        x0, y0, x1, y1 = (max(0, int(v)) for v in boxes[index])
        inside = mask[y0:y1, x0:x1] > 0
        regions[y0:y1, x0:x1][inside] = index + 1
    return regions


def column_bottoms(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns, rows) of a boolean [H, W] region: each column that has a pixel inside, and
    the row of its lowest one (where an object touches the ground; `pipeline.obstacles` uses
    it too)."""
    columns = np.flatnonzero(inside.any(axis=0))
    lowest = inside.shape[0] - 1 - np.argmax(inside[::-1], axis=0)
    return columns, lowest[columns]


def contact_points(labels: np.ndarray, component: int, box: Box) -> np.ndarray:
    """float64 [K, 2]: (u, v) of the lowest pixel of each column of `component` in `labels`,
    at the bottom edge of that pixel (pixel centres at integers), as obstacles' contacts are."""
    x0, y0, x1, y1 = box
    columns, rows = column_bottoms(labels[y0:y1, x0:x1] == component)
    return np.stack([columns + x0, rows + y0 + 0.5], axis=1).astype(np.float64)


@dataclass
class BandCounts:
    """One distance band's counts (or all bands'): labelled components and those found,
    obstacles and those false."""

    gt_components: int = 0
    found: int = 0
    obstacles: int = 0
    false_obstacles: int = 0

    def __iadd__(self, other: BandCounts) -> BandCounts:
        self.gt_components += other.gt_components
        self.found += other.found
        self.obstacles += other.obstacles
        self.false_obstacles += other.false_obstacles
        return self

    def figures(self, frames: int) -> dict[str, Any]:
        """The counts with recall (found / components) and false obstacles per frame."""
        nan = float("nan")
        return {
            "gt_components": self.gt_components,
            "found": self.found,
            "recall": self.found / self.gt_components if self.gt_components else nan,
            "obstacles": self.obstacles,
            "false_obstacles": self.false_obstacles,
            "false_per_frame": self.false_obstacles / frames if frames else nan,
        }


@dataclass
class FrameObstacles:
    """One frame's outcome: per labelled component whether it was found and its band, per
    obstacle whether it is false (None: wholly void) and its band."""

    gt_found: list[bool] = field(default_factory=list)
    gt_bands: list[str] = field(default_factory=list)
    gt_siou: list[float] = field(default_factory=list)
    obstacle_false: list[bool | None] = field(default_factory=list)
    obstacle_bands: list[str] = field(default_factory=list)


def frame_obstacles(
    label: np.ndarray,
    mask: np.ndarray,
    boxes: Sequence[Box],
    distances: Sequence[float | None] | None = None,
    distance_of: Callable[[np.ndarray], float | None] | None = None,
    min_gt_size: int = TRACK_SIZES["anomaly"][1],
    match_siou: float = MATCH_SIOU,
    ignore_index: int = VOID,
) -> FrameObstacles:
    """Match one frame's obstacles (`boxes` on `mask`, at `distances`) to its labelled anomaly
    components; `distance_of(contact_uv)` gives a component's distance (None: unknown)."""
    if mask.shape[:2] != label.shape:
        raise MetricsError(f"mask {mask.shape[:2]} and labels {label.shape} differ in shape")
    if distances is not None and len(distances) != len(boxes):
        raise MetricsError(f"{len(boxes)} obstacles but {len(distances)} distances")
    import cv2

    valid = label != ignore_index
    _, gt_labels, gt_stats, _ = cv2.connectedComponentsWithStats(
        (label == 1).astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    gt_area = gt_stats[:, cv2.CC_STAT_AREA].astype(np.int64)
    small_gt = gt_area < min_gt_size
    small_gt[0] = False
    roi = valid & ~small_gt[gt_labels]
    regions = obstacle_regions(mask, boxes)
    overlap = component_overlaps(regions, len(boxes) + 1, gt_labels, gt_area.size, roi)
    out = FrameObstacles()
    for gt in np.flatnonzero(overlap.gt_size[1:]) + 1:
        siou = float(overlap.intersection[gt] / overlap.union[gt])
        distance = None
        if distance_of is not None:
            x, y, w, h = (int(v) for v in gt_stats[gt, :4])
            distance = distance_of(contact_points(gt_labels, int(gt), (x, y, x + w, y + h)))
        out.gt_siou.append(siou)
        out.gt_found.append(siou >= match_siou)
        out.gt_bands.append(band_of(distance))
    for index in range(len(boxes)):
        scored = overlap.pred_size[index + 1] > 0
        out.obstacle_false.append(bool(overlap.pred_in_gt[index + 1] == 0) if scored else None)
        out.obstacle_bands.append(band_of(distances[index] if distances is not None else None))
    return out


@dataclass
class ObstacleCounts:
    """Obstacle metrics summed over labelled frames, per distance band; mergeable."""

    min_gt_size: int = TRACK_SIZES["anomaly"][1]
    match_siou: float = MATCH_SIOU
    frames: int = 0
    void_obstacles: int = 0  # obstacles with no pixel in the region of interest
    bands: dict[str, BandCounts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in BAND_NAMES:
            self.bands.setdefault(name, BandCounts())

    def add(
        self,
        label: np.ndarray,
        mask: np.ndarray,
        boxes: Sequence[Box],
        distances: Sequence[float | None] | None = None,
        distance_of: Callable[[np.ndarray], float | None] | None = None,
        where: str | None = None,
    ) -> FrameObstacles:
        """One labelled frame (labels 0 / 1 / 255, the anomaly mask, the obstacles' boxes and
        distances); an AnomalyLabelError naming `where` adds nothing."""
        check_anomaly_labels(label, where if where is not None else f"frame {self.frames}")
        found = frame_obstacles(
            label, mask, boxes, distances, distance_of, self.min_gt_size, self.match_siou
        )
        for hit, band in zip(found.gt_found, found.gt_bands, strict=True):
            self.bands[band].gt_components += 1
            self.bands[band].found += int(hit)
        for false, band in zip(found.obstacle_false, found.obstacle_bands, strict=True):
            if false is None:
                self.void_obstacles += 1
                continue
            self.bands[band].obstacles += 1
            self.bands[band].false_obstacles += int(false)
        self.frames += 1
        return found

    @property
    def total(self) -> BandCounts:
        total = BandCounts()
        for counts in self.bands.values():
            total += counts
        return total

    def merge(self, other: ObstacleCounts) -> ObstacleCounts:
        """The sum of two counts of the same matching rule."""
        if (other.min_gt_size, other.match_siou) != (self.min_gt_size, self.match_siou):
            raise MetricsError("cannot merge obstacle counts of other sizes or sIoU thresholds")
        merged = ObstacleCounts(self.min_gt_size, self.match_siou, self.frames + other.frames,
                                self.void_obstacles + other.void_obstacles)  # fmt: skip
        for name in {*self.bands, *other.bands}:
            merged.bands.setdefault(name, BandCounts())
            merged.bands[name] += self.bands.get(name, BandCounts())
            merged.bands[name] += other.bands.get(name, BandCounts())
        return merged

    def metrics(self) -> dict[str, Any]:
        """Recall, false obstacles per frame and the counts, overall and per distance band."""
        return {
            "frames": self.frames,
            **self.total.figures(self.frames),
            "void_obstacles": self.void_obstacles,
            "match_siou": self.match_siou,
            "min_gt_size": self.min_gt_size,
            "by_distance": {
                name: self.bands[name].figures(self.frames)
                for name in BAND_NAMES
                if name in self.bands
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (a fleet marker keeps them); `from_dict` reads them back."""
        return {
            "min_gt_size": self.min_gt_size,
            "match_siou": self.match_siou,
            "frames": self.frames,
            "void_obstacles": self.void_obstacles,
            "bands": {name: vars(counts).copy() for name, counts in self.bands.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObstacleCounts:
        bands = {name: BandCounts(**counts) for name, counts in data["bands"].items()}
        return cls(int(data["min_gt_size"]), float(data["match_siou"]), int(data["frames"]),
                   int(data["void_obstacles"]), bands)  # fmt: skip
