"""Cityscapes val (or another split) for inlier mIoU: semantic trainIds, no anomaly labels.

Layout and label mapping as data/cityscapes.py (leftImg8bit/ + gtFine/ with
*_gtFine_labelTrainIds.png, else *_gtFine_labelIds.png mapped by cityscapesscripts' table).
"""

from __future__ import annotations

from pathlib import Path

from dense_ood_train.benchmarks.base import FileBenchmark, FileItem
from dense_ood_train.data.cityscapes import IMAGE_SUFFIX, cityscapes_pairs
from dense_ood_train.data.labels import LABEL_ID_TO_TRAIN_ID


class _CityscapesBenchmark(FileBenchmark):
    def __init__(self, root: Path, split: str) -> None:
        pairs = cityscapes_pairs(root, split)
        items = [
            FileItem(img.name[: -len(IMAGE_SUFFIX)], img, semantic=lab) for img, lab, _ in pairs
        ]
        super().__init__(f"cityscapes-{split}", items)
        self._train_ids = {img.name[: -len(IMAGE_SUFFIX)]: tid for img, _, tid in pairs}

    def __getitem__(self, index: int):
        frame = super().__getitem__(index)
        if not self._train_ids[frame.name]:
            frame.semantic = LABEL_ID_TO_TRAIN_ID[frame.semantic]
        return frame


def open_cityscapes(root: str | Path, split: str = "val") -> FileBenchmark:
    return _CityscapesBenchmark(Path(root), split)
