"""Exact pixel-level anomaly metrics: AP, FPR95, AUROC, best F1 and the thresholds at fixed
FPR levels, pooled over a dataset.

Pixel metrics are exact (no binning; the official SMIYC code bins each frame into 768
percentiles, so its AP can sit up to about a point above these values). They pool every
non-void pixel of a dataset, sort positives and negatives once each, and derive every metric
from rank counts, so memory stays near one copy of the scored pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dense_ood_ros.metrics.frames import (
    ArrayOrFrames,
    NonFiniteScoreError,
    check_anomaly_labels,
    paired_frames,
)

#: The TPR at which FPR95 is read.
TPR_LEVEL = 0.95

#: The inlier FPR levels of `thresholds_at_fpr` (keys: `fpr_level_key`, e.g. "0.05").
FPR_LEVELS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)

_CHUNK = 1 << 22  # positives processed per step: bounds the temporaries to a few 10s of MB


@dataclass(frozen=True)
class _Pooled:
    """Scores of every non-void pixel, split by label and sorted ascending."""

    pos: np.ndarray
    neg: np.ndarray
    num_void: int

    @classmethod
    def from_frames(cls, scores: ArrayOrFrames, labels: ArrayOrFrames, ignore_index: int):
        score_frames, label_frames = paired_frames(scores, labels)
        dtype = np.result_type(*[s.dtype for s in score_frames])
        if not np.issubdtype(dtype, np.floating):
            dtype = np.dtype(np.float64)
        counts = [
            check_anomaly_labels(label, f"frame {i}", ignore_index)
            for i, label in enumerate(label_frames)
        ]
        num_pos = sum(c[0] for c in counts)
        num_neg = sum(c[1] for c in counts)
        num_void = sum(label.size for label in label_frames) - num_pos - num_neg
        # Preallocate and fill, so the pooled pixels exist once (no list + concatenate copy).
        pos = np.empty(num_pos, dtype=dtype)
        neg = np.empty(num_neg, dtype=dtype)
        at_pos = at_neg = 0
        for score, label, (n_pos, n_neg) in zip(score_frames, label_frames, counts, strict=True):
            pos[at_pos : at_pos + n_pos] = score[label == 1]
            neg[at_neg : at_neg + n_neg] = score[label == 0]
            at_pos += n_pos
            at_neg += n_neg
        pos.sort()
        neg.sort()
        # -inf sorts first, +inf and NaN last: the two ends are enough.
        if any(v.size and not (np.isfinite(v[0]) and np.isfinite(v[-1])) for v in (pos, neg)):
            raise NonFiniteScoreError("scores contain NaN or infinite values on non-void pixels")
        return cls(pos=pos, neg=neg, num_void=num_void)

    def counts_at(self, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(TP, FP) when predicting anomaly for score >= each threshold."""
        tp = self.pos.size - np.searchsorted(self.pos, thresholds, side="left")
        fp = self.neg.size - np.searchsorted(self.neg, thresholds, side="left")
        return tp, fp


def _rank_sums(pooled: _Pooled) -> tuple[float, int, float, float]:
    """One pass over the sorted positives: AP sum, 2x Mann-Whitney U, best F1 and its threshold.

    Recall only changes at positive scores, so AP (the step sum of sklearn) is the mean over
    positive pixels of the precision at that pixel's score; AUROC with ties counted half equals
    the trapezoid over the ROC's distinct thresholds; the best F1 is reached at a positive score.
    """
    pos, neg = pooled.pos, pooled.neg
    num_pos = pos.size
    precision_sum = 0.0
    twice_u = 0
    best_f1, best_threshold = -1.0, float("nan")
    for start in range(0, num_pos, _CHUNK):
        values = pos[start : start + _CHUNK]
        tp, fp = pooled.counts_at(values)
        precision_sum += float(np.sum(tp / (tp + fp)))
        neg_below = np.searchsorted(neg, values, side="left")
        neg_at_or_below = np.searchsorted(neg, values, side="right")
        twice_u += int(np.sum(neg_below)) + int(np.sum(neg_at_or_below))
        f1 = 2.0 * tp / (tp + fp + num_pos)
        # Ascending scores: the last maximum is the highest threshold with the best F1.
        index = f1.size - 1 - int(np.argmax(f1[::-1]))
        if f1[index] >= best_f1:
            best_f1, best_threshold = float(f1[index]), float(values[index])
    return precision_sum, twice_u, best_f1, best_threshold


def _fpr_at_tpr(pooled: _Pooled, level: float = TPR_LEVEL) -> tuple[float, float]:
    """FPR at the first threshold, from high scores to low, where TPR >= `level`.

    TPR only rises at positive scores: the first such threshold is the c-th highest positive
    score, c the smallest count with c / P >= level (the same float comparison as a direct scan).
    """
    num_pos = pooled.pos.size
    count = max(1, int(np.ceil(level * num_pos)))
    while count > 1 and (count - 1) / num_pos >= level:
        count -= 1
    while count / num_pos < level:
        count += 1
    threshold = pooled.pos[num_pos - count]
    _, fp = pooled.counts_at(np.asarray([threshold]))
    return float(fp[0]) / pooled.neg.size, float(threshold)


def fpr_level_key(level: float) -> str:
    """The key of an FPR level in `thresholds_at_fpr` and `rates_at_fpr`: 0.05 -> "0.05"."""
    return repr(float(level))


def _threshold_at_fpr(pooled: _Pooled, level: float) -> tuple[float, float, float]:
    """(threshold, achieved FPR, TPR): the smallest t of the scores' dtype whose `score >= t`
    has an inlier FPR <= `level` (needs inliers).

    With m the largest count of false positives allowed (m / N <= level, N inliers) and v the
    (m+1)-th highest inlier score, `score >= t` has FPR <= level exactly when t > v, whatever
    ties v has: t is the next representable value above v, and t one step lower (v) exceeds.
    """
    neg = pooled.neg
    num_neg = neg.size
    allowed = max(0, min(int(np.floor(level * num_neg)), num_neg - 1))
    while allowed + 1 < num_neg and (allowed + 1) / num_neg <= level:
        allowed += 1  # the same float comparison as a direct check of FP / N <= level
    while allowed > 0 and allowed / num_neg > level:
        allowed -= 1
    above = neg[num_neg - 1 - allowed]
    threshold = np.nextafter(above, np.inf, dtype=neg.dtype)
    tp, fp = pooled.counts_at(np.asarray([threshold], dtype=neg.dtype))
    tpr = float(tp[0]) / pooled.pos.size if pooled.pos.size else float("nan")
    return float(threshold), float(fp[0]) / num_neg, tpr


def _curves(pooled: _Pooled, points: int) -> dict[str, list[float]]:
    """Exact points of the PR and ROC curves at about `points` thresholds (for plots).

    Thresholds are taken evenly in rank among positives and among negatives, so both the
    PR curve (recall axis) and the ROC curve (FPR axis) get resolution where they move.
    """
    picks = []
    for sorted_scores in (pooled.pos, pooled.neg):
        if sorted_scores.size:
            index = np.linspace(0, sorted_scores.size - 1, max(2, points // 2)).round()
            picks.append(sorted_scores[index.astype(np.int64)])
    thresholds = np.unique(np.concatenate(picks))[::-1]
    tp, fp = pooled.counts_at(thresholds)
    num_pos, num_neg = max(pooled.pos.size, 1), max(pooled.neg.size, 1)
    recall = tp / num_pos
    return {
        "thresholds": thresholds.astype(np.float64).tolist(),
        "recall": [0.0, *recall.tolist()],
        "precision": [1.0, *(tp / np.maximum(tp + fp, 1)).tolist()],
        "tpr": [0.0, *recall.tolist()],
        "fpr": [0.0, *(fp / num_neg).tolist()],
    }


def pixel_metrics(
    scores: ArrayOrFrames,
    labels: ArrayOrFrames,
    ignore_index: int = 255,
    *,
    curve_points: int = 0,
) -> dict:
    """Exact pixel-level AP, FPR95, AUROC, best F1 and thresholds at fixed inlier FPRs, pooled
    over all non-void pixels.

    `scores` and `labels` are one array or matching per-frame lists (higher score = more
    anomalous; labels 0 / 1 / `ignore_index`). AP is sklearn's average_precision_score (step
    sum), FPR95 the FPR at the first threshold from high to low where TPR >= 0.95, AUROC the
    trapezoid over distinct thresholds (ties count half). `best_f1_threshold` is the score t
    whose binarisation `score >= t` has the best F1 (SMIYC then binarises with `>`).
    `thresholds_at_fpr` maps each of FPR_LEVELS (key "0.05", ...) to the smallest t (in the
    scores' dtype) whose `score >= t` flags at most that fraction of the inlier (label 0)
    pixels: t is just above the inlier score block that would cross the level, so ties never
    push the FPR over it. `rates_at_fpr` holds the FPR and TPR achieved there.
    With `curve_points` > 0 the result also holds "curves" (PR and ROC points) for plotting.
    Undefined metrics (no anomaly or no inlier pixel) are NaN; NaN or infinite scores on
    non-void pixels raise NonFiniteScoreError.
    """
    pooled = _Pooled.from_frames(scores, labels, ignore_index)
    num_pos, num_neg = pooled.pos.size, pooled.neg.size
    nan = float("nan")
    thresholds_at_fpr: dict[str, float] = {}
    rates_at_fpr: dict[str, dict[str, float]] = {}
    for level in FPR_LEVELS:
        threshold, fpr, tpr = _threshold_at_fpr(pooled, level) if num_neg else (nan, nan, nan)
        thresholds_at_fpr[fpr_level_key(level)] = threshold
        rates_at_fpr[fpr_level_key(level)] = {"fpr": fpr, "tpr": tpr}
    result = {
        "ap": nan,
        "fpr95": nan,
        "auroc": nan,
        "best_f1": nan,
        "best_f1_threshold": nan,
        "fpr95_threshold": nan,
        "thresholds_at_fpr": thresholds_at_fpr,
        "rates_at_fpr": rates_at_fpr,
        "num_positive": num_pos,
        "num_negative": num_neg,
        "num_void": pooled.num_void,
    }
    if num_pos:
        precision_sum, twice_u, best_f1, best_threshold = _rank_sums(pooled)
        result["ap"] = precision_sum / num_pos
        result["best_f1"], result["best_f1_threshold"] = best_f1, best_threshold
        if num_neg:
            result["auroc"] = twice_u / (2.0 * num_pos * num_neg)
            result["fpr95"], result["fpr95_threshold"] = _fpr_at_tpr(pooled)
    if curve_points > 0 and (num_pos or num_neg):
        result["curves"] = _curves(pooled, curve_points)
    return result
