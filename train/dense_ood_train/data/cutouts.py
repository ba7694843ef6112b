"""Real object cut-outs: RGBA images whose alpha is the object's exact mask.

`../shared/data/coco_objects/{train,val}` holds such cut-outs of COCO 2017 objects (lost cargo
and debris, no animals, no road users), with `objects.json` naming each one's class, source
split and photo licence. Training pastes `train/` objects as real negatives (`CocoNegatives`,
negatives.mode coco); the camvid-coco benchmark pastes `val/` objects into CamVid frames. A
folder is refused where the other side's objects are found, so the two never meet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from dense_ood_train.data.image_io import DatasetError, list_images

#: the per-folder index written beside the cut-outs (optional for other folders)
INDEX_FILE = "objects.json"


@dataclass(frozen=True)
class CutOut:
    """One object: RGB pixels and its alpha (255 inside the object, 0 outside)."""

    name: str
    rgb: np.ndarray  # uint8 [h, w, 3]
    alpha: np.ndarray  # uint8 [h, w]


class CutOutFolder:
    """The RGBA cut-outs of one folder, read on first use and kept (they are small)."""

    def __init__(self, folder: str | Path, refuse_split: str | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DatasetError(f"object cut-outs: folder {self.folder} does not exist")
        self.paths = list_images(self.folder)
        self._read: dict[int, CutOut] = {}
        if not self.paths:
            raise DatasetError(f"object cut-outs: no images in {self.folder}")
        splits = self.source_splits
        if refuse_split is not None and refuse_split in splits:
            raise DatasetError(
                f"object cut-outs: {self.folder} holds objects of {refuse_split} "
                f"({INDEX_FILE}), which this use must never see"
            )

    def __len__(self) -> int:
        return len(self.paths)

    @cached_property
    def index(self) -> list[dict]:
        """The folder's objects.json entries ([] where there is none)."""
        path = self.folder / INDEX_FILE
        if not path.is_file():
            return []
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"object cut-outs: {path} is not readable JSON") from exc
        if not isinstance(entries, list):
            raise DatasetError(f"object cut-outs: {path} is not a list of objects")
        return entries

    @property
    def source_splits(self) -> set[str]:
        """The source splits the index names (e.g. {'train2017'})."""
        return {str(e.get("source_split")) for e in self.index if isinstance(e, dict)}

    def __getitem__(self, index: int) -> CutOut:
        if index not in self._read:
            self._read[index] = read_cutout(self.paths[index])
        return self._read[index]


def read_cutout(path: Path) -> CutOut:
    """An RGBA image file -> CutOut; one readable line for files without an alpha channel."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise DatasetError(f"object cut-out {path}: not a readable image")
    if pixels.ndim != 3 or pixels.shape[2] != 4 or pixels.dtype != np.uint8:
        raise DatasetError(f"object cut-out {path}: expected 8-bit RGBA (alpha = the mask)")
    if not pixels[..., 3].any():
        raise DatasetError(f"object cut-out {path}: its alpha (the mask) is empty")
    rgb = cv2.cvtColor(pixels[..., :3], cv2.COLOR_BGR2RGB)
    return CutOut(path.stem, rgb, np.ascontiguousarray(pixels[..., 3]))


def resize_cutout(cutout: CutOut, height: int, width: int, flip: bool = False) -> CutOut:
    """The cut-out at (height, width); alpha resized smoothly, so its edge stays soft."""
    rgb, alpha = cutout.rgb, cutout.alpha
    if flip:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    shrinking = height * width < alpha.shape[0] * alpha.shape[1]
    mode = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    size = (max(width, 1), max(height, 1))
    return CutOut(
        cutout.name,
        cv2.resize(np.ascontiguousarray(rgb), size, interpolation=mode),
        cv2.resize(np.ascontiguousarray(alpha), size, interpolation=mode),
    )


class CocoNegatives:
    """Real outlier exposure: a random cut-out, randomly flipped, as large as fits the box
    with its aspect kept, at a random place in it (a NegativeSource)."""

    def __init__(self, folder: str | Path) -> None:
        self.objects = CutOutFolder(folder, refuse_split="val2017")

    def sample(
        self, rng: np.random.Generator, height: int, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        cutout = self.objects[int(rng.integers(len(self.objects)))]
        h, w = cutout.alpha.shape
        scale = min(height / h, width / w)
        fitted = resize_cutout(
            cutout, max(1, round(h * scale)), max(1, round(w * scale)), bool(rng.random() < 0.5)
        )
        fh, fw = fitted.alpha.shape
        top, left = int(rng.integers(height - fh + 1)), int(rng.integers(width - fw + 1))
        rgb = np.zeros((height, width, 3), np.uint8)
        alpha = np.zeros((height, width), np.float32)
        rgb[top : top + fh, left : left + fw] = fitted.rgb
        alpha[top : top + fh, left : left + fw] = fitted.alpha / 255.0
        return rgb, alpha
