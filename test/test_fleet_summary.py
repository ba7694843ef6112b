"""Mergeable metric summaries: binned pixel metrics hold the exact ones within their bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dense_ood_ros.metrics import component_metrics, pixel_metrics
from dense_ood_ros.metrics.summary import (
    BINS,
    ComponentCounts,
    ScoreHistogram,
    ScoreSummary,
    load_summary,
    save_summary,
)

KEYS = ("ap", "fpr95", "auroc", "best_f1")


def scored_pixels(seed: int, n: int = 60_000) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0 / 1 / 255 and float32 scores in [0, 1], anomalies scoring higher."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.1).astype(np.uint8)
    label[rng.random(n) < 0.05] = 255
    score = np.clip(rng.normal(0.3 + 0.3 * (label == 1), 0.2), 0, 1).astype(np.float32)
    return score, label


@pytest.mark.parametrize("squeeze", [1.0, 1e-3])  # 1e-3: every score in ~65 bins (wide bounds)
def test_exact_metrics_lie_within_the_bounds(squeeze: float) -> None:
    score, label = scored_pixels(0)
    score = (score * squeeze).astype(np.float32)
    histogram = ScoreHistogram()
    histogram.add(score, label)
    binned, exact = histogram.metrics(), pixel_metrics(score, label)
    for key in KEYS:
        low, high = binned["bounds"][key]
        assert low - 1e-12 <= exact[key] <= high + 1e-12, (key, low, exact[key], high)
        assert low - 1e-12 <= binned[key] <= high + 1e-12, key
    # the binned values are the exact metrics of the scores' bin indices (each bin's ties)
    quantised = pixel_metrics(np.floor(score.astype(np.float64) * BINS), label)
    for key in KEYS:
        assert binned[key] == pytest.approx(quantised[key], abs=1e-12), key
    assert binned["num_void"] == exact["num_void"] and binned["clipped"] == 0
    if squeeze == 1.0:  # fine bins: every bound is tight
        assert all(b[1] - b[0] < 0.01 for b in binned["bounds"].values())


def test_merged_histograms_equal_one_histogram_and_survive_saving(tmp_path: Path) -> None:
    parts = [scored_pixels(seed, 20_000) for seed in range(3)]
    whole, merged = ScoreHistogram(), ScoreHistogram()
    for score, label in parts:
        whole.add(score, label)
        one = ScoreHistogram()
        one.add(score, label)
        merged = merged.merge(one)
    np.testing.assert_array_equal(whole.pos, merged.pos)
    np.testing.assert_array_equal(whole.neg, merged.neg)
    np.savez(tmp_path / "h.npz", **whole.to_arrays())
    with np.load(tmp_path / "h.npz") as data:
        loaded = ScoreHistogram.from_arrays(dict(data))
    assert loaded.metrics()["ap"] == whole.metrics()["ap"]
    out_of_range = ScoreHistogram()
    out_of_range.add(np.asarray([-0.5, 0.5, 1.0, 3.0], np.float32), np.zeros(4, np.uint8))
    assert out_of_range.clipped == 2 and out_of_range.neg.sum() == 4


def test_component_counts_equal_component_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels, scores = [], []
    for _ in range(3):
        label = np.zeros((80, 120), np.uint8)
        y, x = rng.integers(0, 50, 2)
        label[y : y + 25, x : x + 40] = 1
        label[-3:] = 255
        score = np.clip(label * 0.7 + rng.random(label.shape) * 0.4, 0, 1).astype(np.float32)
        labels.append(label)
        scores.append(score)
    summary = ScoreSummary(["jsd"], threshold=0.6)
    for score, label in zip(scores, labels, strict=True):
        summary.add(label, {"jsd": score})
    split = ScoreSummary(["jsd"], threshold=0.6)
    split.add(labels[0], {"jsd": scores[0]})
    rest = ScoreSummary(["jsd"], threshold=0.6)
    for score, label in zip(scores[1:], labels[1:], strict=True):
        rest.add(label, {"jsd": score})
    expected = component_metrics(scores, labels, 0.6)
    save_summary(tmp_path / "summary.npz", split.merge(rest))
    reloaded = load_summary(tmp_path / "summary.npz")
    assert reloaded.frames == summary.frames == 3
    for got in (
        summary.metrics()["jsd"]["components"],
        split.merge(rest).metrics()["jsd"]["components"],
        reloaded.metrics()["jsd"]["components"],
    ):
        for key in ("siou", "ppv", "mean_f1"):
            assert got[key] == pytest.approx(expected[key], abs=1e-12), key
        for key in ("tp", "fn", "fp", "num_gt_components", "num_pred_components"):
            assert got[key] == expected[key], key
    assert isinstance(summary.components["jsd"], ComponentCounts)
