"""Anomaly-segmentation metrics: exact pixel AP / FPR95 / AUROC, SMIYC component metrics, mIoU.

numpy (and OpenCV for connected components) only: the vehicle runtime's replay and the training
package's evaluation both call these. Label convention (METHOD.md, "Evaluation conventions"):
0 = inlier, 1 = anomaly, `ignore_index` (255) = void, not scored.

Pixel metrics are exact (no binning; the official SMIYC code bins each frame into 768
percentiles, so its AP can sit up to about a point above these values). They pool every
non-void pixel of a dataset, sort positives and negatives once each, and derive every metric
from rank counts, so memory stays near one copy of the scored pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: sIoU / PPV thresholds of the SMIYC F1; taken from numpy.linspace itself on purpose (its eighth
#: value is 0.6000000000000001, and a literal 0.6 changes results where sIoU is exactly 0.6).
SIOU_THRESHOLDS = np.linspace(0.25, 0.75, 11, endpoint=True)

#: SMIYC size filters per track: (drop predicted components below, void GT components below).
TRACK_SIZES = {"anomaly": (500, 100), "obstacle": (50, 10)}

#: The TPR at which FPR95 is read.
TPR_LEVEL = 0.95

ArrayOrFrames = np.ndarray | Sequence[np.ndarray]

_CHUNK = 1 << 22  # positives processed per step: bounds the temporaries to a few 10s of MB


def _frames(data: ArrayOrFrames, what: str) -> list[np.ndarray]:
    """One array (a [N, H, W] stack is N frames) or a sequence of per-frame arrays -> a list."""
    if isinstance(data, np.ndarray):
        return list(data) if data.ndim == 3 else [data]
    frames = [np.asarray(frame) for frame in data]
    if not frames:
        raise ValueError(f"{what}: no frames given")
    return frames


def _paired_frames(
    scores: ArrayOrFrames, labels: ArrayOrFrames
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-frame (scores, labels) with matching shapes, or a ValueError naming the frame."""
    score_frames, label_frames = _frames(scores, "scores"), _frames(labels, "labels")
    if len(score_frames) != len(label_frames):
        raise ValueError(f"{len(score_frames)} score frames but {len(label_frames)} label frames")
    for index, (score, label) in enumerate(zip(score_frames, label_frames, strict=True)):
        if score.shape != label.shape:
            raise ValueError(
                f"frame {index}: scores {score.shape} and labels {label.shape} differ in shape"
            )
    return score_frames, label_frames


def _check_labels(label: np.ndarray, index: int, ignore_index: int) -> tuple[int, int]:
    """Count anomaly and inlier pixels; refuse labels other than 0, 1 and `ignore_index`."""
    num_pos = int(np.count_nonzero(label == 1))
    num_neg = int(np.count_nonzero(label == 0))
    num_void = int(np.count_nonzero(label == ignore_index))
    if num_pos + num_neg + num_void != label.size:
        allowed = {0, 1, ignore_index}
        bad = [int(v) for v in np.unique(label) if int(v) not in allowed][:5]
        raise ValueError(
            f"frame {index}: labels must be 0 (inlier), 1 (anomaly) or {ignore_index} (void); "
            f"found {bad}"
        )
    return num_pos, num_neg


@dataclass(frozen=True)
class _Pooled:
    """Scores of every non-void pixel, split by label and sorted ascending."""

    pos: np.ndarray
    neg: np.ndarray
    num_void: int

    @classmethod
    def from_frames(cls, scores: ArrayOrFrames, labels: ArrayOrFrames, ignore_index: int):
        score_frames, label_frames = _paired_frames(scores, labels)
        dtype = np.result_type(*[s.dtype for s in score_frames])
        if not np.issubdtype(dtype, np.floating):
            dtype = np.dtype(np.float64)
        counts = [_check_labels(label, i, ignore_index) for i, label in enumerate(label_frames)]
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
        # NaNs sort last: checking the last element is enough.
        if (pos.size and np.isnan(pos[-1])) or (neg.size and np.isnan(neg[-1])):
            raise ValueError("scores contain NaN on non-void pixels")
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
    """Exact pixel-level AP, FPR95, AUROC and best F1, pooled over all non-void pixels.

    `scores` and `labels` are one array or matching per-frame lists (higher score = more
    anomalous; labels 0 / 1 / `ignore_index`). AP is sklearn's average_precision_score (step
    sum), FPR95 the FPR at the first threshold from high to low where TPR >= 0.95, AUROC the
    trapezoid over distinct thresholds (ties count half). `best_f1_threshold` is the score t
    whose binarisation `score >= t` has the best F1 (SMIYC then binarises with `>`).
    With `curve_points` > 0 the result also holds "curves" (PR and ROC points) for plotting.
    Undefined metrics (no anomaly or no inlier pixel) are NaN.
    """
    pooled = _Pooled.from_frames(scores, labels, ignore_index)
    num_pos, num_neg = pooled.pos.size, pooled.neg.size
    nan = float("nan")
    result = {
        "ap": nan,
        "fpr95": nan,
        "auroc": nan,
        "best_f1": nan,
        "best_f1_threshold": nan,
        "fpr95_threshold": nan,
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


# --- SMIYC component metrics ---------------------------------------------------------------


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a mask: (label image int32, areas; [0] is the background)."""
    import cv2

    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    return labels, stats[:, cv2.CC_STAT_AREA].astype(np.int64)


def frame_components(
    score: np.ndarray,
    label: np.ndarray,
    threshold: float,
    min_pred_size: int,
    min_gt_size: int,
    ignore_index: int = 255,
) -> tuple[np.ndarray, np.ndarray]:
    """sIoU of each ground-truth component and PPV of each predicted component in one frame.

    Follows the official SMIYC code (road_anomaly_benchmark, metrics/segment_metrics): predict
    `score > threshold` outside void; 8-connected components of prediction and ground truth;
    drop predicted components smaller than `min_pred_size` (area counted before the step below);
    void ground-truth components smaller than `min_gt_size`; then count everything inside the
    region of interest (non-void, not a voided GT component). For GT component k with predicted
    components K^ touching it and A = the part of K^ inside other GT components:
    sIoU = |k ∩ K^| / (|k ∪ K^| - |A|). PPV of a predicted component = |p ∩ GT| / |p|.
    """
    valid = label != ignore_index
    pred_labels, pred_area = _components((score > threshold) & valid)
    gt_labels, gt_area = _components(label == 1)
    keep_pred = pred_area >= min_pred_size
    keep_pred[0] = False
    small_gt = gt_area < min_gt_size
    small_gt[0] = False  # the official loop also tests the background; only frames with fewer
    # than min_gt_size non-anomaly pixels differ, and voiding the background there is an accident.
    relabel = np.where(keep_pred, np.arange(pred_area.size), 0)
    roi = valid & ~small_gt[gt_labels]
    gt_ids = gt_labels[roi]
    pred_ids = relabel[pred_labels[roi]]
    num_gt, num_pred = gt_area.size, pred_area.size
    gt_size = np.bincount(gt_ids, minlength=num_gt)
    pred_size = np.bincount(pred_ids, minlength=num_pred)

    both = (gt_ids > 0) & (pred_ids > 0)
    pair_keys = gt_ids[both].astype(np.int64) * num_pred + pred_ids[both]
    pairs, overlap = np.unique(pair_keys, return_counts=True)
    pair_gt, pair_pred = pairs // num_pred, pairs % num_pred
    # Pixels of each predicted component inside any GT component, and of each GT component
    # covered by any predicted component (exact integers held in float64).
    pred_in_gt = np.bincount(pair_pred, weights=overlap, minlength=num_pred)
    intersection = np.bincount(pair_gt, weights=overlap, minlength=num_gt)
    touching_size = np.bincount(pair_gt, weights=pred_size[pair_pred], minlength=num_gt)
    in_other_gt = np.bincount(pair_gt, weights=pred_in_gt[pair_pred] - overlap, minlength=num_gt)
    union = touching_size + gt_size - intersection - in_other_gt

    gt_index = np.flatnonzero(gt_size[1:]) + 1
    pred_index = np.flatnonzero(pred_size[1:]) + 1
    siou = intersection[gt_index] / union[gt_index]
    ppv = pred_in_gt[pred_index] / pred_size[pred_index]
    return siou, ppv


def _f1(tp: int, fn: int, fp: int) -> float:
    denominator = 2 * tp + fn + fp
    return 2 * tp / denominator if denominator else float("nan")


def component_metrics(
    scores: ArrayOrFrames,
    labels: ArrayOrFrames,
    threshold: float,
    track: str = "anomaly",
    min_pred_size: int | None = None,
    min_gt_size: int | None = None,
    ignore_index: int = 255,
) -> dict:
    """SMIYC component-level sIoU, PPV and mean F1 over a dataset (see `frame_components`).

    `track` picks the size filters (anomaly: predicted >= 500 px, GT >= 100 px; obstacle: 50,
    10); explicit sizes override it. For each tau in SIOU_THRESHOLDS: TP = GT components with
    sIoU >= tau, FN = the others, FP = predicted components with PPV < tau, counts summed over
    the dataset, F1 = 2TP / (2TP + FN + FP); mean_f1 averages F1 over tau. siou and ppv are
    means over all components of the dataset (NaN where there is none).
    """
    if track not in TRACK_SIZES:
        raise ValueError(f"unknown track {track!r}; choose from {sorted(TRACK_SIZES)}")
    default_pred, default_gt = TRACK_SIZES[track]
    min_pred = default_pred if min_pred_size is None else int(min_pred_size)
    min_gt = default_gt if min_gt_size is None else int(min_gt_size)
    score_frames, label_frames = _paired_frames(scores, labels)
    sious, ppvs = [], []
    for index, (score, label) in enumerate(zip(score_frames, label_frames, strict=True)):
        _check_labels(label, index, ignore_index)
        siou, ppv = frame_components(score, label, threshold, min_pred, min_gt, ignore_index)
        sious.append(siou)
        ppvs.append(ppv)
    siou_all, ppv_all = np.concatenate(sious), np.concatenate(ppvs)
    tp = [int(np.count_nonzero(siou_all >= tau)) for tau in SIOU_THRESHOLDS]
    fn = [int(np.count_nonzero(siou_all < tau)) for tau in SIOU_THRESHOLDS]
    fp = [int(np.count_nonzero(ppv_all < tau)) for tau in SIOU_THRESHOLDS]
    f1 = [_f1(*counts) for counts in zip(tp, fn, fp, strict=True)]
    nan = float("nan")
    return {
        "siou": float(siou_all.mean()) if siou_all.size else nan,
        "ppv": float(ppv_all.mean()) if ppv_all.size else nan,
        "mean_f1": float(np.mean(f1)),
        "taus": SIOU_THRESHOLDS.tolist(),
        "f1": f1,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "num_gt_components": int(siou_all.size),
        "num_pred_components": int(ppv_all.size),
        "threshold": float(threshold),
        "min_pred_size": min_pred,
        "min_gt_size": min_gt,
    }


# --- closed-set segmentation ---------------------------------------------------------------


def confusion_matrix(
    pred: ArrayOrFrames, gt: ArrayOrFrames, num_classes: int, ignore_index: int = 255
) -> np.ndarray:
    """int64 [K, K] counts, rows = ground truth, columns = prediction; `ignore_index` skipped."""
    pred_frames, gt_frames = _frames(pred, "pred"), _frames(gt, "gt")
    if len(pred_frames) != len(gt_frames):
        raise ValueError(f"{len(pred_frames)} predicted frames but {len(gt_frames)} GT frames")
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for index, (p, g) in enumerate(zip(pred_frames, gt_frames, strict=True)):
        if p.shape != g.shape:
            raise ValueError(f"frame {index}: prediction {p.shape} and GT {g.shape} differ")
        valid = g != ignore_index
        g_valid = g[valid].astype(np.int64)
        p_valid = p[valid].astype(np.int64)
        for name, values in (("GT", g_valid), ("prediction", p_valid)):
            if values.size and (values.min() < 0 or values.max() >= num_classes):
                raise ValueError(
                    f"frame {index}: {name} holds class ids outside 0..{num_classes - 1} "
                    f"(other than {ignore_index})"
                )
        flat = np.bincount(g_valid * num_classes + p_valid, minlength=num_classes**2)
        confusion += flat.reshape(num_classes, num_classes)
    return confusion


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class IoU from a confusion matrix; NaN for classes absent from GT and prediction."""
    confusion = np.asarray(confusion, dtype=np.float64)
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / np.maximum(union, 1), np.nan)


def miou_over_gt_classes(confusion: np.ndarray) -> float:
    """Mean IoU over the classes that occur in the ground truth only.

    On a dataset that uses a subset of the label set (synthroad has 15 of the 19 Cityscapes
    classes), a prediction of an absent class gives that class IoU 0 in the Cityscapes-style
    mean, a 1/K penalty however few pixels it covers; here such pixels count only as errors
    of the true class. Identical to the Cityscapes-style mean when every class occurs in GT.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    present = confusion.sum(1) > 0
    ious = iou_from_confusion(confusion)[present]
    return float(ious.mean()) if ious.size else float("nan")


def class_iou(
    pred: ArrayOrFrames, gt: ArrayOrFrames, num_classes: int, ignore_index: int = 255
) -> np.ndarray:
    """Per-class IoU [K] over all frames pooled (NaN where a class never occurs)."""
    return iou_from_confusion(confusion_matrix(pred, gt, num_classes, ignore_index))


def miou(
    pred: ArrayOrFrames, gt: ArrayOrFrames, num_classes: int, ignore_index: int = 255
) -> float:
    """Mean IoU over the classes that occur in GT or prediction (Cityscapes-style pooling)."""
    ious = class_iou(pred, gt, num_classes, ignore_index)
    return float(np.nanmean(ious)) if np.any(~np.isnan(ious)) else float("nan")
