"""From a TrainConfig to datasets: which dataset, which augmentation, held-out validation.

The synthroad training scenes can be generated once and kept in memory (`data.cache`): the
generator costs about as much per scene as a CPU training step does per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import torch

from dense_ood_train.config import TrainConfig, TrainConfigError
from dense_ood_train.data.negatives import NegativeSource

#: synthroad validation scenes use seeds from here on, far from the training seeds.
SYNTHROAD_VAL_SEED_OFFSET = 10_000_000

Pair = tuple[np.ndarray, np.ndarray]


class Transformed(torch.utils.data.Dataset):
    """Apply `transform(image, label) -> (image, label)` to the items of a dataset."""

    def __init__(self, dataset: Any, transform: Callable[[np.ndarray, np.ndarray], Pair]) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Pair:
        image, label = self.dataset[index]
        return self.transform(image, label)


class InMemory(torch.utils.data.Dataset):
    """All items of a dataset, materialised once (with a progress bar when asked)."""

    def __init__(self, dataset: Any, progress: bool = False, desc: str = "scenes") -> None:
        indices: Sequence[int] = range(len(dataset))
        if progress:
            from tqdm import tqdm

            indices = tqdm(indices, desc=desc, unit="scene")
        self.items = [dataset[i] for i in indices]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Pair:
        return self.items[index]


class ResizePair:
    """Resize an (image, label) pair to (height, width): bilinear image, nearest label."""

    def __init__(self, hw: tuple[int, int]) -> None:
        self.hw = hw

    def __call__(self, image: np.ndarray, label: np.ndarray) -> Pair:
        height, width = self.hw
        if image.shape[:2] == (height, width):
            return image, label
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
        return image, label


def _raw_datasets(config: TrainConfig) -> tuple[Any, Any]:
    data = config.data
    if data.dataset == "synthroad":
        from dense_ood_train.data.synthroad import SynthRoadDataset

        train = SynthRoadDataset(data.num_scenes, *data.scene_hw)
        val = None
        if data.val_scenes > 0:
            val = SynthRoadDataset(
                data.val_scenes, *data.scene_hw, seed_offset=SYNTHROAD_VAL_SEED_OFFSET
            )
        return train, val
    if data.dataset == "cityscapes":
        from dense_ood_train.data.cityscapes import CityscapesDataset

        root = _required(data.root, "data.root")
        cs_val = CityscapesDataset(root, data.val_split) if data.val_split else None
        return CityscapesDataset(root, data.train_split), cs_val
    if data.dataset == "camvid":
        from dense_ood_train.data.camvid import CamVidDataset

        root = _required(data.root, "data.root")
        camvid_val = CamVidDataset(root, data.val_split) if data.val_split else None
        return CamVidDataset(root, data.train_split), camvid_val
    from dense_ood_train.data.folder import FolderDataset

    folder_val = None
    if data.val_images_dir and data.val_labels_dir:
        folder_val = FolderDataset(data.val_images_dir, data.val_labels_dir)
    images = _required(data.images_dir, "data.images_dir")
    return FolderDataset(images, _required(data.labels_dir, "data.labels_dir")), folder_val


def _required(value: str | None, key: str) -> str:
    """A config path that `config.validate` already requires for this dataset."""
    if value is None:
        raise TrainConfigError(f"{key} is required for this dataset")
    return value


def build_datasets(config: TrainConfig, progress: bool = False) -> tuple[Any, Any]:
    """(augmented training dataset, validation dataset or None) of `config.data`."""
    from dense_ood_train.data.transforms import TrainTransform

    data = config.data
    train, val = _raw_datasets(config)
    if data.dataset == "synthroad" and data.cache:
        train = InMemory(train, progress, desc="synthroad scenes")
    transform = TrainTransform(data.crop_hw, scale=data.scale, flip=data.flip, jitter=data.jitter)
    train = Transformed(train, transform)
    if val is not None and data.val_hw is not None:
        val = Transformed(val, ResizePair(data.val_hw))
    return train, val


def collate_pairs(batch: Sequence[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
    """[(image HxWx3 uint8, label HxW uint8)] -> (uint8 [N, 3, H, W], int64 [N, H, W])."""
    from dense_ood_train.data.transforms import collate

    return collate(batch)


def build_negative_source(config: TrainConfig) -> NegativeSource:
    """The object source of an object mode: COCO cut-outs (coco, flow+coco), else procedural
    objects or a folder's images (real, flow+real)."""
    from dense_ood_train.data import negatives

    if config.negatives.mode in ("coco", "flow+coco"):
        from dense_ood_train.data.cutouts import CocoNegatives

        return CocoNegatives(_required(config.negatives.coco_dir, "negatives.coco_dir"))
    source = config.negatives.real_source
    if source == "procedural":
        return negatives.ProceduralNegatives()
    return negatives.ImageFolderNegatives(source, masks_dir=config.negatives.real_masks_dir)
