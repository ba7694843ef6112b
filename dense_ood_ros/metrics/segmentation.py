"""Closed-set segmentation quality: confusion matrix, per-class IoU and mIoU."""

from __future__ import annotations

import numpy as np

from dense_ood_ros.metrics.frames import ArrayOrFrames, MetricsError, as_frames


def confusion_matrix(
    pred: ArrayOrFrames, gt: ArrayOrFrames, num_classes: int, ignore_index: int = 255
) -> np.ndarray:
    """int64 [K, K] counts, rows = ground truth, columns = prediction; `ignore_index` skipped."""
    pred_frames, gt_frames = as_frames(pred, "pred"), as_frames(gt, "gt")
    if len(pred_frames) != len(gt_frames):
        raise MetricsError(f"{len(pred_frames)} predicted frames but {len(gt_frames)} GT frames")
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for index, (p, g) in enumerate(zip(pred_frames, gt_frames, strict=True)):
        if p.shape != g.shape:
            raise MetricsError(f"frame {index}: prediction {p.shape} and GT {g.shape} differ")
        valid = g != ignore_index
        g_valid = g[valid].astype(np.int64)
        p_valid = p[valid].astype(np.int64)
        for name, values in (("GT", g_valid), ("prediction", p_valid)):
            if values.size and (values.min() < 0 or values.max() >= num_classes):
                raise MetricsError(
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
