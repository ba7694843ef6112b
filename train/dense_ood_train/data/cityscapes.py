"""Cityscapes in its distributed layout, labels as trainIds (255 = ignore).

    root/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    root/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png   (preferred)
                                   <city>_<seq>_<frame>_gtFine_labelIds.png        (else, mapped)

`*_labelTrainIds.png` are written by cityscapesscripts' `createTrainIdLabelImgs`; where they are
absent, `*_labelIds.png` is mapped to trainIds through cityscapesscripts' label table
(labels.LABEL_ID_TO_TRAIN_ID). Items are (image uint8 [H, W, 3] RGB, label uint8 [H, W]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_train.data.image_io import read_label, read_rgb
from dense_ood_train.data.labels import label_ids_to_train_ids

IMAGE_SUFFIX = "_leftImg8bit.png"
TRAIN_IDS_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"


def cityscapes_pairs(root: str | Path, split: str) -> list[tuple[Path, Path, bool]]:
    """(image, label file, label is trainIds) for every image of the split, sorted."""
    root = Path(root)
    image_dir = root / "leftImg8bit" / split
    label_dir = root / "gtFine" / split
    for d in (image_dir, label_dir):
        if not d.is_dir():
            raise FileNotFoundError(
                f"Cityscapes folder {d} does not exist (root={root}, split={split!r})"
            )
    pairs = []
    missing = []
    for image in sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}")):
        stem = image.name[: -len(IMAGE_SUFFIX)]
        city = image.parent.name
        train_ids = label_dir / city / f"{stem}{TRAIN_IDS_SUFFIX}"
        label_ids = label_dir / city / f"{stem}{LABEL_IDS_SUFFIX}"
        if train_ids.is_file():
            pairs.append((image, train_ids, True))
        elif label_ids.is_file():
            pairs.append((image, label_ids, False))
        else:
            missing.append(image.name)
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} images in {image_dir} have no gtFine label, e.g. {missing[0]}"
        )
    if not pairs:
        raise FileNotFoundError(f"no *{IMAGE_SUFFIX} images under {image_dir}")
    return pairs


def read_cityscapes_label(path: Path, is_train_ids: bool) -> np.ndarray:
    label = read_label(path)
    return label if is_train_ids else label_ids_to_train_ids(label)


class CityscapesDataset:
    """Cityscapes split ("train", "val", ...) as (image, trainIds) pairs, then `transform`."""

    def __init__(self, root: str | Path, split: str = "train", transform=None) -> None:
        self.root = Path(root)
        self.split = split
        self.pairs = cityscapes_pairs(self.root, split)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        image_path, label_path, is_train_ids = self.pairs[index]
        image = read_rgb(image_path)
        label = read_cityscapes_label(label_path, is_train_ids)
        if label.shape != image.shape[:2]:
            raise OSError(
                f"{label_path.name}: label size {label.shape} != image size {image.shape[:2]}"
            )
        if self.transform is not None:
            return self.transform(image, label)
        return image, label

    def name(self, index: int) -> str:
        """The frame's name, e.g. frankfurt_000000_000294."""
        return self.pairs[index][0].name[: -len(IMAGE_SUFFIX)]
