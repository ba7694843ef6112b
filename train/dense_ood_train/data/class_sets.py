"""Class names and colours of a dataset: what each trainId means, for export, node and reports.

Every dataset declares its classes here (or, for a user's folder dataset, in the config's
`data.class_names` / `data.palette`), so an exported model carries the dataset's own names and
colours in its metadata instead of generic `class_<i>` ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dense_ood_train.data.image_io import DatasetError
from dense_ood_train.data.labels import CITYSCAPES_CLASS_NAMES, CITYSCAPES_PALETTE


@dataclass(frozen=True)
class ClassSet:
    """The names and RGB colours of trainIds 0..K-1."""

    names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        if not self.names:
            raise DatasetError("a class set needs at least one class")
        if len(self.names) != len(self.palette):
            raise DatasetError(
                f"{len(self.names)} class names but {len(self.palette)} palette colours"
            )
        for colour in self.palette:
            if len(colour) != 3 or not all(0 <= int(c) <= 255 for c in colour):
                raise DatasetError(f"palette colour {list(colour)} is not [r, g, b] in 0..255")

    def __len__(self) -> int:
        return len(self.names)

    def palette_array(self) -> np.ndarray:
        """The palette as uint8 [K, 3]."""
        return np.asarray(self.palette, dtype=np.uint8).reshape(-1, 3)


CITYSCAPES = ClassSet(
    CITYSCAPES_CLASS_NAMES, tuple((int(r), int(g), int(b)) for r, g, b in CITYSCAPES_PALETTE)
)

# The SegNet release of CamVid (11 classes; id 11 is void), with the release's colours.
CAMVID = ClassSet(
    (
        "sky",
        "building",
        "pole",
        "road",
        "pavement",
        "tree",
        "sign_symbol",
        "fence",
        "car",
        "pedestrian",
        "bicyclist",
    ),
    (
        (128, 128, 128),
        (128, 0, 0),
        (192, 192, 128),
        (128, 64, 128),
        (0, 0, 192),
        (128, 128, 0),
        (192, 128, 128),
        (64, 64, 128),
        (64, 0, 128),
        (64, 64, 0),
        (0, 128, 192),
    ),
)

#: datasets whose classes are fixed by the dataset itself
DATASET_CLASSES = {"synthroad": CITYSCAPES, "cityscapes": CITYSCAPES, "camvid": CAMVID}


def generic_classes(num_classes: int) -> ClassSet:
    """`class_<i>` names with distinct colours, for models whose dataset declared none."""
    return ClassSet(
        tuple(f"class_{i}" for i in range(num_classes)),
        tuple(((37 * i) % 256, (97 * i) % 256, (173 * i) % 256) for i in range(num_classes)),
    )
