"""Closed-set validation of a segmenter: mIoU over a data loader, streamed through a confusion
matrix (dense_ood_ros.metrics), so full-resolution Cityscapes validation fits in memory."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from dense_ood_ros.metrics import confusion_matrix, iou_from_confusion, miou_over_gt_classes
from dense_ood_train.data.labels import IGNORE_INDEX
from dense_ood_train.models.normalization import Normalize


@torch.no_grad()
def evaluate_segmenter(
    segmenter: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    device: torch.device | str = "cpu",
) -> dict[str, object]:
    """mIoU, pixel accuracy and per-class IoU of `segmenter` over (uint8 images, labels) batches.

    mIoU averages the classes that occur in ground truth or prediction (NaN IoUs skipped);
    miou_gt_classes only those in the ground truth (see dense_ood_ros.metrics).
    The segmenter's train/eval mode is restored afterwards.
    """
    was_training = segmenter.training
    segmenter.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    normalize = Normalize().to(device)
    try:
        for images, labels in batches:
            logits = segmenter(normalize.from_uint8(images.to(device)))
            pred = logits.argmax(1).cpu().numpy()
            gt = labels.numpy()
            confusion += confusion_matrix(list(pred), list(gt), num_classes, IGNORE_INDEX)
    finally:
        segmenter.train(was_training)
    ious = iou_from_confusion(confusion)
    valid = ~np.isnan(ious)
    total = confusion.sum()
    return {
        "miou": float(np.mean(ious[valid])) if valid.any() else float("nan"),
        "miou_gt_classes": miou_over_gt_classes(confusion),
        "pixel_accuracy": float(np.trace(confusion) / total) if total else float("nan"),
        "class_iou": [None if np.isnan(v) else float(v) for v in ious],
    }
