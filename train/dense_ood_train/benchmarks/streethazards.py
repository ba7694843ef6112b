"""StreetHazards (Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World
Settings"), test split, as unpacked from the authors' archive (github.com/hendrycks/anomaly-seg):

    <root>/test/images/test/<town>/<n>.png
    <root>/test/annotations/test/<town>/<n>.png        (same relative path)

Raw annotation values are 1..14; the reference code subtracts 1, giving classes 0..12 and the
anomaly class 13 (raw 14). As in the reference evaluation (eval_ood.py: out = label == 13,
in = everything else), raw 14 maps to 1 and every other value to 0: nothing is void. The
classes are not Cityscapes', so no semantic labels are returned. Note that the reference
protocol averages metrics per image; our evaluation pools pixels (say which one you report).
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
from dense_ood_train.data.image_io import list_images

RAW_ANOMALY = 14


def open_streethazards(root: str | Path, split: str = "test") -> FileBenchmark:
    root = Path(root)
    if (root / split / "images").is_dir():
        root = root / split
    images = require_dir(root / "images", "StreetHazards")
    annotations = require_dir(root / "annotations", "StreetHazards")
    items = []
    for image in list_images(images, recursive=True):
        rel = image.relative_to(images)
        label = (annotations / rel).with_suffix(".png")
        if not label.is_file():
            raise FileNotFoundError(f"StreetHazards: no annotation {rel.with_suffix('.png')}")
        items.append(FileItem(str(rel.with_suffix("")), image, anomaly=label))
    lut = np.zeros(256, dtype=np.uint8)
    lut[RAW_ANOMALY] = 1
    return FileBenchmark("streethazards", items, anomaly_map=lut_map(lut))
