"""LostAndFound (Pinggera et al. 2016), in its Cityscapes-like distribution layout:

    <root>/leftImg8bit/<split>/<NN_scene>/<fid>_leftImg8bit.png
    <root>/gtCoarse/<split>/<NN_scene>/<fid>_gtCoarse_labelIds.png

Label ids (the dataset's table, as used by the SMIYC benchmark code
adynathos/road-anomaly-benchmark, datasets/tracks.py, DatasetLostAndFound): 0 = unlabeled
(void), 1 = free space / road (inlier), 2..200 = obstacle objects (anomaly); anything else is
void. Only the drivable area is labelled, so this is an obstacle-track benchmark. Frames whose
label is entirely 0 (a few, listed as invalid by that code) are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_train.benchmarks.base import (
    FileBenchmark,
    FileItem,
    lut_map,
    require_dir,
)
from dense_ood_train.data.image_io import read_label

IMAGE_SUFFIX = "_leftImg8bit"
LABEL_SUFFIX = "_gtCoarse_labelIds.png"


def laf_lut() -> np.ndarray:
    lut = np.full(256, 255, dtype=np.uint8)
    lut[1] = 0
    lut[2:201] = 1
    return lut


def open_lostandfound(
    root: str | Path, split: str = "test", skip_unlabeled: bool = True
) -> FileBenchmark:
    root = Path(root)
    image_dir = require_dir(root / "leftImg8bit" / split, "LostAndFound")
    label_dir = require_dir(root / "gtCoarse" / split, "LostAndFound")
    items = []
    for image in sorted(
        p for ext in ("png", "jpg", "webp") for p in image_dir.glob(f"*/*{IMAGE_SUFFIX}.{ext}")
    ):
        fid = image.stem[: -len(IMAGE_SUFFIX)]
        label = label_dir / image.parent.name / f"{fid}{LABEL_SUFFIX}"
        if not label.is_file():
            raise FileNotFoundError(f"LostAndFound: no label {label.name} for {image.name}")
        if skip_unlabeled and not read_label(label).any():
            continue
        items.append(FileItem(fid, image, anomaly=label))
    return FileBenchmark(
        f"lostandfound-{split}", items, anomaly_map=lut_map(laf_lut()), track="obstacle"
    )
