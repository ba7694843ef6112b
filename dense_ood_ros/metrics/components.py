"""SMIYC component metrics: sIoU per ground-truth component, PPV per predicted one, mean F1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dense_ood_ros.metrics.frames import (
    ArrayOrFrames,
    MetricsError,
    check_anomaly_labels,
    iter_paired_frames,
)

#: sIoU / PPV thresholds of the SMIYC F1; taken from numpy.linspace itself on purpose (its eighth
#: value is 0.6000000000000001, and a literal 0.6 changes results where sIoU is exactly 0.6).
SIOU_THRESHOLDS = np.linspace(0.25, 0.75, 11, endpoint=True)

#: SMIYC size filters per track: (drop predicted components below, void GT components below).
TRACK_SIZES = {"anomaly": (500, 100), "obstacle": (50, 10)}


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
    overlap = component_overlaps(relabel[pred_labels], pred_area.size, gt_labels, gt_area.size, roi)
    gt_index = np.flatnonzero(overlap.gt_size[1:]) + 1
    pred_index = np.flatnonzero(overlap.pred_size[1:]) + 1
    siou = overlap.intersection[gt_index] / overlap.union[gt_index]
    ppv = overlap.pred_in_gt[pred_index] / overlap.pred_size[pred_index]
    return siou, ppv


@dataclass(frozen=True)
class Overlaps:
    """Per-component counts inside a region of interest, indexed by component id ([0]: none).
    `union` is the SMIYC sIoU denominator: |k ∪ K^| - |A| (see `frame_components`)."""

    gt_size: np.ndarray  # pixels of each ground-truth component
    pred_size: np.ndarray  # pixels of each predicted component
    intersection: np.ndarray  # per GT component: pixels covered by any predicted component
    union: np.ndarray  # per GT component
    pred_in_gt: np.ndarray  # per predicted component: pixels inside any GT component


def component_overlaps(
    pred_labels: np.ndarray, num_pred: int, gt_labels: np.ndarray, num_gt: int, roi: np.ndarray
) -> Overlaps:
    """SMIYC's counts of predicted components (`pred_labels`, ids below `num_pred`, 0 = none)
    against ground-truth components (`gt_labels`, ids below `num_gt`) on the pixels of `roi`:
    the one sIoU computation of the component metrics and the obstacle metrics."""
    gt_ids = gt_labels[roi]
    pred_ids = pred_labels[roi]
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
    return Overlaps(gt_size, pred_size, intersection, union, pred_in_gt)


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
        raise MetricsError(f"unknown track {track!r}; choose from {sorted(TRACK_SIZES)}")
    default_pred, default_gt = TRACK_SIZES[track]
    min_pred = default_pred if min_pred_size is None else int(min_pred_size)
    min_gt = default_gt if min_gt_size is None else int(min_gt_size)
    sious, ppvs = [], []
    for index, (score, label) in enumerate(iter_paired_frames(scores, labels)):
        check_anomaly_labels(label, f"frame {index}", ignore_index)
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
