"""Metrics of dense anomaly detection and segmentation, and the report figures.

numpy (and OpenCV for connected components) only: the vehicle runtime's replay and the training
package's evaluation both call these.
- `pixel`: exact pixel AP / FPR95 / AUROC / best F1 over a pooled dataset, and the
  thresholds at fixed inlier FPR levels;
- `components`: the SMIYC component metrics (sIoU, PPV, mean F1);
- `obstacle_metrics`: obstacles against labelled components (recall at sIoU >= 0.25, false
  obstacles per frame, by distance band), mergeable counts;
- `segmentation`: confusion matrix, per-class IoU, mIoU;
- `frames`: the per-frame inputs, the 0 / 1 / 255 anomaly label check, the finite-score check
  and `MetricsError`, the kind of every error these raise;
- `summary`: mergeable summaries (score histograms with bounds on the exact pixel metrics,
  component counts) for replays spread over many machines;
- `plots`: PR and ROC curves and sample panels (matplotlib, optional).
"""

from __future__ import annotations

from dense_ood_ros.metrics.components import (
    SIOU_THRESHOLDS,
    TRACK_SIZES,
    component_metrics,
    frame_components,
)
from dense_ood_ros.metrics.frames import (
    AnomalyLabelError,
    ArrayOrFrames,
    MetricsError,
    NonFiniteScoreError,
    check_anomaly_labels,
    check_finite_scores,
)
from dense_ood_ros.metrics.pixel import FPR_LEVELS, TPR_LEVEL, fpr_level_key, pixel_metrics
from dense_ood_ros.metrics.segmentation import (
    class_iou,
    confusion_matrix,
    iou_from_confusion,
    miou,
    miou_over_gt_classes,
)

__all__ = [
    "FPR_LEVELS",
    "SIOU_THRESHOLDS",
    "TPR_LEVEL",
    "TRACK_SIZES",
    "AnomalyLabelError",
    "ArrayOrFrames",
    "MetricsError",
    "NonFiniteScoreError",
    "check_anomaly_labels",
    "check_finite_scores",
    "class_iou",
    "component_metrics",
    "confusion_matrix",
    "fpr_level_key",
    "frame_components",
    "iou_from_confusion",
    "miou",
    "miou_over_gt_classes",
    "pixel_metrics",
]
