"""Fishyscapes validation sets: Lost & Found (FS L&F) and Static.

The public validation data (fishyscapes.com; bdl-benchmark's `fishyscapes` TFDS builder)
are commonly unpacked into this layout, which the readers of Meta-OoD, PEBAL, RPL and
others use:

    <root>/LostAndFound/original/<name>.png     <root>/LostAndFound/labels/<name>.png
    <root>/Static/original/<name>.png           <root>/Static/labels/<name>.png

(`images/` is accepted in place of `original/`; image and label share the file stem.)
Labels: 0 = in-distribution, 1 = out-of-distribution, 255 (or any other value, e.g. the
"unlabeled" id 2 of some exports) = void. Fishyscapes defines pixel metrics only (track None).
"""

from __future__ import annotations

from pathlib import Path

from dense_ood_train.benchmarks.base import (
    FileBenchmark,
    FileItem,
    lut_map,
    require_dir,
)
from dense_ood_train.data.image_io import list_images

SUBSETS = {"lostandfound": "LostAndFound", "static": "Static"}


def open_fishyscapes(root: str | Path, subset: str) -> FileBenchmark:
    root = Path(root)
    folder = SUBSETS[subset]
    if (root / folder).is_dir():
        root = root / folder
    images = root / "original" if (root / "original").is_dir() else root / "images"
    require_dir(images, f"Fishyscapes {folder}")
    labels = require_dir(root / "labels", f"Fishyscapes {folder}")
    items = []
    for image in list_images(images):
        label = labels / f"{image.stem}.png"
        if not label.is_file():
            raise FileNotFoundError(f"Fishyscapes {folder}: no label {label.name} for {image.name}")
        items.append(FileItem(image.stem, image, anomaly=label))
    return FileBenchmark(
        f"fishyscapes-{'laf' if subset == 'lostandfound' else 'static'}",
        items,
        anomaly_map=lut_map({0: 0, 1: 1}),
    )
