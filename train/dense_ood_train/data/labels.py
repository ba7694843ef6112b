"""Cityscapes label conventions (19 trainIds, palette, labelId -> trainId) from cityscapesscripts.

The table is read from `cityscapesscripts.helpers.labels` (the official Cityscapes label table) so
that names, colours and the labelId mapping can never drift from the dataset's own definition.
"""

from __future__ import annotations

import numpy as np
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

IGNORE_INDEX = 255
NUM_CLASSES = 19

_TRAIN_LABELS = sorted(
    (lab for lab in _CS_LABELS if 0 <= lab.trainId < IGNORE_INDEX), key=lambda lab: lab.trainId
)
assert [lab.trainId for lab in _TRAIN_LABELS] == list(range(NUM_CLASSES))

CITYSCAPES_CLASS_NAMES: tuple[str, ...] = tuple(lab.name for lab in _TRAIN_LABELS)
CITYSCAPES_PALETTE: np.ndarray = np.array([lab.color for lab in _TRAIN_LABELS], dtype=np.uint8)
CITYSCAPES_PALETTE.setflags(write=False)

# trainIds by name, for readable generator and test code.
TRAIN_ID: dict[str, int] = {name: i for i, name in enumerate(CITYSCAPES_CLASS_NAMES)}


def _label_id_lut() -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for lab in _CS_LABELS:
        if 0 <= lab.id < 256 and 0 <= lab.trainId < IGNORE_INDEX:
            lut[lab.id] = lab.trainId
    lut.setflags(write=False)
    return lut


# labelId (as in *_gtFine_labelIds.png) -> trainId; unlisted and void ids map to IGNORE_INDEX.
LABEL_ID_TO_TRAIN_ID: np.ndarray = _label_id_lut()


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes labelId image (uint8) to trainIds (uint8, 255 = ignore)."""
    if label_ids.dtype != np.uint8:
        label_ids = np.clip(label_ids, 0, 255).astype(np.uint8)
    return LABEL_ID_TO_TRAIN_ID[label_ids]
