"""Per-frame inputs of the metrics: one array or a list of frames, and the anomaly label check.

Label convention (docs/method.md, "Evaluation conventions"): 0 = inlier, 1 = anomaly,
`ignore_index` (255) = void, not scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from dense_ood_ros.errors import DenseOodError

ArrayOrFrames = np.ndarray | Sequence[np.ndarray]


class MetricsError(DenseOodError, ValueError):
    """Scores and labels the metrics cannot use: frames or shapes that do not pair up, bad
    labels, NaN or infinite scores, an unknown setting."""


class AnomalyLabelError(MetricsError):
    """Anomaly labels hold a value other than 0 (inlier), 1 (anomaly) and the void index."""


class NonFiniteScoreError(MetricsError):
    """Anomaly scores hold NaN or infinite values on pixels that are scored (non-void)."""


def as_frames(data: ArrayOrFrames, what: str) -> list[np.ndarray]:
    """One array (a [N, H, W] stack is N frames) or a sequence of per-frame arrays -> a list."""
    if isinstance(data, np.ndarray):
        return list(data) if data.ndim == 3 else [data]
    frames = [np.asarray(frame) for frame in data]
    if not frames:
        raise MetricsError(f"{what}: no frames given")
    return frames


def iter_paired_frames(
    scores: ArrayOrFrames, labels: ArrayOrFrames
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(score, label) per frame, one frame in memory at a time (lazy sequences stay lazy)."""
    if isinstance(scores, np.ndarray) and scores.ndim == 2:
        scores, labels = [scores], [np.asarray(labels)]
    if not len(scores):
        raise MetricsError("scores: no frames given")
    if len(scores) != len(labels):
        raise MetricsError(f"{len(scores)} score frames but {len(labels)} label frames")
    for index in range(len(scores)):
        score, label = np.asarray(scores[index]), np.asarray(labels[index])
        if score.shape != label.shape:
            raise MetricsError(
                f"frame {index}: scores {score.shape} and labels {label.shape} differ in shape"
            )
        yield score, label


def paired_frames(
    scores: ArrayOrFrames, labels: ArrayOrFrames
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-frame (scores, labels) with matching shapes, or a MetricsError naming the frame."""
    score_frames, label_frames = as_frames(scores, "scores"), as_frames(labels, "labels")
    if len(score_frames) != len(label_frames):
        raise MetricsError(f"{len(score_frames)} score frames but {len(label_frames)} label frames")
    for index, (score, label) in enumerate(zip(score_frames, label_frames, strict=True)):
        if score.shape != label.shape:
            raise MetricsError(
                f"frame {index}: scores {score.shape} and labels {label.shape} differ in shape"
            )
    return score_frames, label_frames


def check_anomaly_labels(
    label: np.ndarray, where: str = "labels", ignore_index: int = 255
) -> tuple[int, int]:
    """(anomaly, inlier) pixel counts of `label`; AnomalyLabelError naming `where` for values
    other than 0, 1 and `ignore_index` (a wrong folder, a colour mask, trainIds)."""
    num_pos = int(np.count_nonzero(label == 1))
    num_neg = int(np.count_nonzero(label == 0))
    num_void = int(np.count_nonzero(label == ignore_index))
    if num_pos + num_neg + num_void != label.size:
        allowed = {0, 1, ignore_index}
        bad = [int(v) for v in np.unique(label) if int(v) not in allowed][:5]
        raise AnomalyLabelError(
            f"{where}: labels must be 0 (inlier), 1 (anomaly) or {ignore_index} (void); found {bad}"
        )
    return num_pos, num_neg


def check_finite_scores(
    score: np.ndarray, label: np.ndarray, where: str = "scores", ignore_index: int = 255
) -> None:
    """NonFiniteScoreError naming `where` when `score` is NaN or infinite on a non-void pixel
    of `label` (a diverged model, a broken export); scores on void pixels are never used."""
    if score.shape != label.shape:
        raise MetricsError(f"{where}: scores {score.shape} and labels {label.shape} differ")
    bad = ~np.isfinite(score[label != ignore_index])
    if bad.any():
        raise NonFiniteScoreError(
            f"{where}: {int(bad.sum())} of {bad.size} scored pixels are NaN or infinite"
        )
