"""CamVid-OOD: the test split of CamVid with animals pasted in, released with ObsNet (Besnier,
Bursuc, Picard, Briot, "Triggering Failures: Out-Of-Distribution detection by learning from
local adversarial attacks in Semantic Segmentation", ICCV 2021; github.com/valeoai/obsnet):

    <root>/test_ood/<stem>.png             480x360 colour frames (.jpg and .webp also read)
    <root>/testannot_ood/<stem>.png        uint8 ids
    <root>/test_ood.txt                    optional: "path/to/image.png path/to/label.png" lines

Where test_ood.txt exists its pairs are the frame list (the paths' stems are looked up in the
two folders, so absolute SegNet-style paths work); otherwise images and labels are matched by
stem. Label ids (ObsNet's Datasets/camvid.py): 0..10 the 11 CamVid classes (Sky, Building, Pole,
Road, Pavement, Tree, SignSymbol, Fence, Car, Pedestrian, Bicyclist), 11 void, 12 anomaly.
Anomaly labels: 0..10 -> 0, 12 -> 1, 11 and anything else -> 255. Semantic labels: the CamVid
ids 0..10 (not Cityscapes trainIds), everything else 255, anomaly pixels included, so the mIoU
is over the 11 classes on non-anomalous pixels and needs an 11-class CamVid model.

Track None (pixel metrics only): ObsNet's protocol defines no component metrics, and the SMIYC
anomaly-track size filters (500 / 100 px) are absolute pixel counts set for frames of
1280x720 and larger, about 5x the area of these; `--components anomaly` still forces them.
Note that ObsNet itself scores misclassified pixels as its positives; here the positives are
the anomaly pixels (id 12), as in the other anomaly benchmarks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_train.benchmarks.base import (
    BenchmarkError,
    FileBenchmark,
    FileItem,
    lut_map,
    require_dir,
)
from dense_ood_train.data.class_sets import CAMVID

NUM_CLASSES = 11
ANOMALY_ID = 12
IMAGE_SUFFIXES = (".png", ".jpg", ".webp")
FRAME_LIST = "test_ood.txt"


def anomaly_lut() -> np.ndarray:
    """Raw ids -> 0 inlier (0..10), 1 anomaly (12), 255 void (11 and anything else)."""
    lut = np.full(256, 255, dtype=np.uint8)
    lut[:NUM_CLASSES] = 0
    lut[ANOMALY_ID] = 1
    return lut


def semantic_lut() -> np.ndarray:
    """Raw ids -> CamVid class ids 0..10 kept, everything else (void, anomaly) 255."""
    lut = np.full(256, 255, dtype=np.uint8)
    lut[:NUM_CLASSES] = np.arange(NUM_CLASSES, dtype=np.uint8)
    return lut


def _find_image(images: Path, stem: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        if (images / f"{stem}{suffix}").is_file():
            return images / f"{stem}{suffix}"
    return None


def _listed_pairs(listing: Path) -> list[tuple[str, str]]:
    """(image stem, label stem) for each non-empty line of test_ood.txt."""
    pairs = []
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise BenchmarkError(
                f"CamVid-OOD: {listing.name} line {number}: expected 'image label' paths, "
                f"got {line.strip()!r}"
            )
        pairs.append((Path(fields[0]).stem, Path(fields[1]).stem))
    return pairs


def _folder_pairs(images: Path) -> list[tuple[str, str]]:
    """(stem, stem) for each image in the image folder."""
    stems = sorted(
        {p.stem for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()}
    )
    return [(stem, stem) for stem in stems]


def open_camvid_ood(root: str | Path) -> FileBenchmark:
    root = Path(root)
    images = require_dir(root / "test_ood", "CamVid-OOD")
    labels = require_dir(root / "testannot_ood", "CamVid-OOD")
    listing = root / FRAME_LIST
    listed = listing.is_file()
    items = []
    for image_stem, label_stem in _listed_pairs(listing) if listed else _folder_pairs(images):
        image = _find_image(images, image_stem)
        if image is None:
            raise FileNotFoundError(
                f"CamVid-OOD: {FRAME_LIST} lists {image_stem} but test_ood/ has no "
                f"{image_stem}.png/.jpg/.webp"
            )
        label = labels / f"{label_stem}.png"
        if not label.is_file():
            raise FileNotFoundError(
                f"CamVid-OOD: no label testannot_ood/{label.name} for {image.name}"
            )
        items.append(FileItem(image_stem, image, anomaly=label, semantic=label))
    return FileBenchmark(
        "camvid-ood",
        items,
        anomaly_map=lut_map(anomaly_lut()),
        semantic_map=lut_map(semantic_lut()),
        semantic_classes=CAMVID.names,
    )
