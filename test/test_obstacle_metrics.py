"""Obstacle metrics (metrics.obstacle_metrics): recall of labelled anomaly components at sIoU >=
0.25, false obstacles per frame, distance bands, void, and mergeable counts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dense_ood_ros.metrics import AnomalyLabelError, MetricsError
from dense_ood_ros.metrics.components import frame_components
from dense_ood_ros.metrics.obstacle_metrics import (
    BAND_NAMES,
    ObstacleCounts,
    band_of,
    contact_points,
    frame_obstacles,
    obstacle_regions,
)

HW = (60, 80)


def _frame() -> tuple[np.ndarray, np.ndarray]:
    """Labels with two anomaly components (A: rows 10-29, cols 10-29; C: rows 40-49, cols
    60-74) and two void rows; the mask covers A and a patch B (rows 5-14, cols 50-64)."""
    label = np.zeros(HW, np.uint8)
    label[10:30, 10:30] = 1  # A, 400 px
    label[40:50, 60:75] = 1  # C, 150 px
    label[-2:] = 255
    mask = np.zeros(HW, np.uint8)
    mask[10:30, 12:30] = 255  # covers 360 of A's 400 px
    mask[5:15, 50:65] = 255  # B: on no labelled component
    return label, mask


BOX_A, BOX_B = (12, 10, 30, 30), (50, 5, 65, 15)


def test_found_missed_and_false_obstacles() -> None:
    label, mask = _frame()
    out = frame_obstacles(label, mask, [BOX_A, BOX_B])
    assert out.gt_found == [True, False]  # A found, C missed
    assert out.gt_siou == pytest.approx([360 / 400, 0.0])
    assert out.obstacle_false == [False, True]
    assert out.gt_bands == ["unknown", "unknown"] and out.obstacle_bands == ["unknown"] * 2


def test_the_siou_is_smiycs() -> None:
    """With every obstacle a component of the mask, the sIoU is the component metrics' own."""
    label, mask = _frame()
    score = (mask > 0).astype(np.float32)
    siou, _ = frame_components(score, label, 0.5, min_pred_size=1, min_gt_size=100)
    out = frame_obstacles(label, mask, [BOX_A, BOX_B])
    assert out.gt_siou == pytest.approx(siou.tolist())


def test_a_small_overlap_is_not_found_and_not_false() -> None:
    label, _ = _frame()
    mask = np.zeros(HW, np.uint8)
    mask[25:40, 25:40] = 255  # 25 px inside A, 200 outside
    out = frame_obstacles(label, mask, [(25, 25, 40, 40)])
    assert out.gt_found == [False, False] and out.obstacle_false == [False]


def test_small_components_and_void_are_not_scored() -> None:
    label, mask = _frame()
    label[0:5, 0:5] = 1  # 25 px: under the 100 px of the anomaly track, voided
    mask[0:5, 0:5] = 255
    mask[-2:, 30:40] = 255  # on the void rows
    out = frame_obstacles(label, mask, [BOX_A, (0, 0, 5, 5), (30, HW[0] - 2, 40, HW[0])])
    assert len(out.gt_found) == 2  # the small component is not one of them
    assert out.obstacle_false == [False, None, None]  # wholly void: neither true nor false


def test_overlapping_boxes_give_pixels_to_the_smaller() -> None:
    mask = np.full((10, 10), 255, np.uint8)
    regions = obstacle_regions(mask, [(0, 0, 10, 10), (2, 2, 4, 4)])
    assert (regions[2:4, 2:4] == 2).all() and (regions == 1).sum() == 96
    mask[0, 0] = 0
    assert obstacle_regions(mask, [(0, 0, 10, 10)])[0, 0] == 0  # only the mask's pixels


def test_contact_points_are_each_columns_lowest_pixel() -> None:
    labels = np.zeros((6, 6), np.int32)
    labels[1:4, 2] = 3
    labels[1:2, 3] = 3
    uv = contact_points(labels, 3, (2, 1, 4, 4))
    np.testing.assert_array_equal(uv, [[2, 3.5], [3, 1.5]])


def test_distance_bands() -> None:
    assert [band_of(d) for d in (None, math.nan, 0.0, 9.99, 10.0, 25.0, 40.0, 400.0)] == [
        "unknown", "unknown", "<10 m", "<10 m", "10-20 m", "20-40 m", ">=40 m", ">=40 m",
    ]  # fmt: skip
    label, mask = _frame()
    seen: list[np.ndarray] = []

    def distance_of(uv: np.ndarray) -> float:
        seen.append(uv)
        return 5.0 if uv[:, 1].max() < 35 else 15.0  # A near, C farther

    counts = ObstacleCounts()
    counts.add(label, mask, [BOX_A, BOX_B], [5.0, None], distance_of)
    bands = counts.metrics()["by_distance"]
    assert list(bands) == list(BAND_NAMES)
    near = {"gt_components": 1, "found": 1, "recall": 1.0, "obstacles": 1,
            "false_obstacles": 0, "false_per_frame": 0.0}  # fmt: skip
    assert bands["<10 m"] == near
    assert (bands["10-20 m"]["gt_components"], bands["10-20 m"]["recall"]) == (1, 0.0)
    assert (bands["unknown"]["obstacles"], bands["unknown"]["false_obstacles"]) == (1, 1)
    assert len(seen) == 2 and seen[0][:, 1].max() == 29.5  # A's lowest row, its bottom edge


def test_counts_add_up_and_merge_like_one_pass() -> None:
    label, mask = _frame()
    whole, first, second = ObstacleCounts(), ObstacleCounts(), ObstacleCounts()
    for counts in (whole, first):
        counts.add(label, mask, [BOX_A, BOX_B])
    for counts in (whole, second):
        counts.add(label, mask, [BOX_A])
        counts.add(label, np.zeros_like(mask), [])
    merged = first.merge(second)
    assert merged.to_dict() == whole.to_dict()  # (metrics() holds NaN: NaN != NaN)
    m = merged.metrics()
    assert (m["frames"], m["gt_components"], m["found"], m["obstacles"]) == (3, 6, 2, 3)
    assert m["recall"] == pytest.approx(2 / 6) and m["false_per_frame"] == pytest.approx(1 / 3)
    # JSON round trip (a fleet marker): the same counts
    again = ObstacleCounts.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert again.to_dict() == merged.to_dict()
    with pytest.raises(MetricsError, match="cannot merge"):
        merged.merge(ObstacleCounts(min_gt_size=10))


def test_without_frames_rates_are_nan_and_bad_inputs_are_refused() -> None:
    m = ObstacleCounts().metrics()
    assert m["frames"] == 0 and math.isnan(m["recall"]) and math.isnan(m["false_per_frame"])
    label, mask = _frame()
    with pytest.raises(AnomalyLabelError, match="frame 0"):
        ObstacleCounts().add(label * 2, mask, [])
    with pytest.raises(MetricsError, match="differ in shape"):
        frame_obstacles(label, mask[:-1], [])
    with pytest.raises(MetricsError, match="distances"):
        frame_obstacles(label, mask, [BOX_A], [1.0, 2.0])
