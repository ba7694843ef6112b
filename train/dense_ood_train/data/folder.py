"""A generic dataset of images and label PNGs in two folders, matched by file stem.

    images_dir/<stem>.(png|jpg|...)     colour images
    labels_dir/<stem>.png               uint8 ids (trainIds, or any ids mapped by `label_map`)

Every image needs a label; labels without an image are ignored. `label_map` (a 256-entry
lookup table, e.g. labels.LABEL_ID_TO_TRAIN_ID for Cityscapes labelIds) maps raw ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_train.data.image_io import DatasetError, list_images, read_label, read_rgb


def stem_pairs(images_dir: str | Path, labels_dir: str | Path) -> list[tuple[Path, Path]]:
    """(image, label) paths matched by stem; an image without a label is an error."""
    images_dir, labels_dir = Path(images_dir), Path(labels_dir)
    for d in (images_dir, labels_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"folder {d} does not exist")
    labels = {}
    for p in list_images(labels_dir):
        if p.stem in labels:
            raise DatasetError(f"two label files with stem {p.stem!r} in {labels_dir}")
        labels[p.stem] = p
    images = list_images(images_dir)
    if not images:
        raise FileNotFoundError(f"no images in {images_dir}")
    missing = [p.name for p in images if p.stem not in labels]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} images in {images_dir} have no label in {labels_dir}, "
            f"e.g. {missing[0]}"
        )
    return [(p, labels[p.stem]) for p in images]


class FolderDataset:
    """(image uint8 [H, W, 3] RGB, label uint8 [H, W]) pairs from two folders, then `transform`."""

    def __init__(
        self,
        images_dir: str | Path,
        labels_dir: str | Path,
        transform=None,
        label_map: np.ndarray | None = None,
    ) -> None:
        self.pairs = stem_pairs(images_dir, labels_dir)
        if label_map is not None and (label_map.shape != (256,) or label_map.dtype != np.uint8):
            raise DatasetError("label_map must be a uint8 lookup table of 256 entries")
        self.label_map = label_map
        self.transform = transform

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        image_path, label_path = self.pairs[index]
        image = read_rgb(image_path)
        label = read_label(label_path)
        if label.shape != image.shape[:2]:
            raise OSError(
                f"{label_path.name}: label size {label.shape} != image size {image.shape[:2]}"
            )
        if self.label_map is not None:
            label = self.label_map[label]
        if self.transform is not None:
            return self.transform(image, label)
        return image, label

    def name(self, index: int) -> str:
        return self.pairs[index][0].stem
