"""Training augmentations on (image, label) pairs, and the batch collate function.

`TrainTransform` rescales (image bilinear, label nearest), pads (label IGNORE_INDEX), crops,
flips and colour-jitters. Geometric steps are applied identically to image and label, so they
stay aligned. Without `rng=`, each call seeds a numpy Generator from torch's global generator,
which DataLoader seeds differently per worker and epoch and `torch.manual_seed` makes
reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from dense_ood_train.data.image_io import DatasetError
from dense_ood_train.data.labels import IGNORE_INDEX


class TrainTransform:
    """Random scale in `scale`, pad + random crop to `crop_hw`, horizontal flip, colour jitter.

    `jitter` = (brightness, contrast, saturation, hue) as in torchvision's ColorJitter (factors
    drawn from [1 - x, 1 + x]; hue as a fraction of the colour circle), or None to disable.
    """

    def __init__(
        self,
        crop_hw: tuple[int, int],
        scale: tuple[float, float] = (0.5, 2.0),
        flip: bool = True,
        jitter: Sequence[float] | None = (0.3, 0.3, 0.3, 0.02),
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        if len(crop_hw) != 2 or min(crop_hw) < 1:
            raise DatasetError(f"crop_hw must be two positive sizes, got {crop_hw}")
        if not 0 < scale[0] <= scale[1]:
            raise DatasetError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
        if jitter is not None and len(jitter) != 4:
            raise DatasetError("jitter must be (brightness, contrast, saturation, hue)")
        self.crop_hw = (int(crop_hw[0]), int(crop_hw[1]))
        self.scale = (float(scale[0]), float(scale[1]))
        self.flip = flip
        self.jitter = tuple(float(j) for j in jitter) if jitter is not None else None
        self.ignore_index = ignore_index

    @staticmethod
    def _default_rng() -> np.random.Generator:
        # torch's global generator: seeded per DataLoader worker, reproducible after manual_seed
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))

    def __call__(
        self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 [H, W, 3], uint8 [H, W]) -> same types at `crop_hw`."""
        if image.shape[:2] != label.shape[:2]:
            raise DatasetError(f"image {image.shape[:2]} and label {label.shape[:2]} sizes differ")
        rng = rng or self._default_rng()
        image, label = random_scale(image, label, rng, self.scale)
        image, label = random_crop(image, label, rng, self.crop_hw, self.ignore_index)
        if self.flip and rng.random() < 0.5:
            image, label = image[:, ::-1], label[:, ::-1]
        if self.jitter is not None:
            image = color_jitter(image, rng, *self.jitter)
        return np.ascontiguousarray(image), np.ascontiguousarray(label)


def random_scale(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, scale: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    s = rng.uniform(*scale)
    h, w = label.shape[:2]
    size = (max(1, round(w * s)), max(1, round(h * s)))
    if size == (w, h):
        return image, label
    image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    label = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
    return image, label


def random_crop(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    crop_hw: tuple[int, int],
    ignore_index: int = IGNORE_INDEX,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop to crop_hw, padding first (image 0, label `ignore_index`) where it is smaller."""
    ch, cw = crop_hw
    h, w = label.shape[:2]
    ph, pw = max(ch - h, 0), max(cw - w, 0)
    if ph or pw:
        top, left = int(rng.integers(ph + 1)), int(rng.integers(pw + 1))
        pads = (top, ph - top, left, pw - left)
        image = cv2.copyMakeBorder(image, *pads, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        label = cv2.copyMakeBorder(label, *pads, cv2.BORDER_CONSTANT, value=ignore_index)
        h, w = label.shape[:2]
    y0, x0 = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
    return image[y0 : y0 + ch, x0 : x0 + cw], label[y0 : y0 + ch, x0 : x0 + cw]


def color_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    hue: float = 0.0,
) -> np.ndarray:
    """Brightness, contrast, saturation and hue changes in random order (uint8 RGB in and out)."""
    img = image.astype(np.float32)
    for op in rng.permutation(4):
        if op == 0 and brightness > 0:
            img *= rng.uniform(1 - brightness, 1 + brightness)
        elif op == 1 and contrast > 0:
            mean = _gray(img).mean()
            img = (img - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
        elif op == 2 and saturation > 0:
            gray = _gray(img)[..., None]
            img = (img - gray) * rng.uniform(1 - saturation, 1 + saturation) + gray
        elif op == 3 and hue > 0:
            img = _shift_hue(np.clip(img, 0, 255), rng.uniform(-hue, hue))
        img = np.clip(img, 0, 255)
    return (img + 0.5).astype(np.uint8)


def _gray(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _shift_hue(img: np.ndarray, shift: float) -> np.ndarray:
    hsv = cv2.cvtColor(img / 255.0, cv2.COLOR_RGB2HSV)  # float input: hue in degrees
    hsv[..., 0] = (hsv[..., 0] + shift * 360.0) % 360.0
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0


def collate(batch: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """[(image uint8 [H, W, 3], label [H, W])] -> (uint8 [N, 3, H, W], int64 [N, H, W])."""
    if not batch:
        raise DatasetError("cannot collate an empty batch")
    images = np.stack([np.asarray(img, dtype=np.uint8) for img, _ in batch])
    labels = np.stack([np.asarray(lab) for _, lab in batch])
    return (
        torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(labels.astype(np.int64)),
    )
