"""Negative synthesis: choose a patch size, paste one rectangular patch per image, mark it.

Patch sides are drawn independently for height and width from a range given in pixels at a
reference crop height (the group used 16..216 px in steps of 8 on 1024-px crops), scaled to the
actual crop height and rounded to multiples of the flow's scale factor so that the flow can
sample them. Pasted pixels are negatives: a separate mask marks them and their labels become
ignore, so cross-entropy skips them and the JSD term sees only them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dense_ood_train.data.labels import IGNORE_INDEX
from dense_ood_train.data.negatives import NegativeSource

Box = tuple[int, int, int, int]  # top, left, height, width


def patch_sizes(
    crop_hw: tuple[int, int],
    factor: int,
    minimum: int,
    maximum: int,
    step: int,
    reference_height: int,
) -> list[int]:
    """Candidate patch sides (pixels) for crops of `crop_hw`: multiples of `factor`, sorted."""
    scale = crop_hw[0] / reference_height
    limit = max(crop_hw) // factor * factor
    sizes = set()
    for side in range(minimum, maximum + 1, step):
        rounded = round(side * scale / factor) * factor
        sizes.add(min(max(rounded, factor), limit))
    return sorted(sizes)


def sample_patch_hw(
    rng: np.random.Generator, sizes: Sequence[int], crop_hw: tuple[int, int]
) -> tuple[int, int]:
    """Height and width drawn independently from `sizes`, each capped by the crop."""
    height = int(rng.choice([s for s in sizes if s <= crop_hw[0]] or [min(sizes)]))
    width = int(rng.choice([s for s in sizes if s <= crop_hw[1]] or [min(sizes)]))
    return min(height, crop_hw[0]), min(width, crop_hw[1])


def random_boxes(
    rng: np.random.Generator, n: int, crop_hw: tuple[int, int], patch_hw: tuple[int, int]
) -> list[Box]:
    """One box of `patch_hw` per image at a uniformly random place inside the crop."""
    height, width = patch_hw
    tops = rng.integers(0, crop_hw[0] - height + 1, size=n)
    lefts = rng.integers(0, crop_hw[1] - width + 1, size=n)
    return [(int(t), int(left), height, width) for t, left in zip(tops, lefts, strict=True)]


def crop_boxes(images: torch.Tensor, boxes: Sequence[Box]) -> torch.Tensor:
    """The contents of one same-sized box per image: [N, C, h, w]."""
    return torch.stack(
        [
            img[:, t : t + h, left : left + w]
            for img, (t, left, h, w) in zip(images, boxes, strict=True)
        ]
    )


@dataclass
class Pasted:
    """A batch with negatives pasted in."""

    images: torch.Tensor  # [N, 3, H, W] normalised, negatives inside
    labels: torch.Tensor  # [N, H, W] int64, IGNORE_INDEX on pasted pixels
    negatives: torch.Tensor  # [N, H, W] bool, True on pasted (negative) pixels


def paste_patches(
    images: torch.Tensor,
    labels: torch.Tensor,
    patches: torch.Tensor,
    boxes: Sequence[Box],
    alpha: torch.Tensor | None = None,
) -> Pasted:
    """Paste patches [N, 3, h, w] (same space as `images`) into the boxes; differentiable.

    `alpha` [N, 1, h, w] in [0, 1] blends shaped negatives (real objects): pixels with
    alpha >= 0.5 are negatives, pixels with 0 < alpha < 0.5 become ignore (mixed content).
    """
    images = images.clone()
    labels = labels.clone()
    negatives = torch.zeros(labels.shape, dtype=torch.bool, device=labels.device)
    for i, (top, left, height, width) in enumerate(boxes):
        rows, cols = slice(top, top + height), slice(left, left + width)
        if alpha is None:
            images[i, :, rows, cols] = patches[i]
            negatives[i, rows, cols] = True
            labels[i, rows, cols] = IGNORE_INDEX
            continue
        a = alpha[i]
        images[i, :, rows, cols] = a * patches[i] + (1.0 - a) * images[i, :, rows, cols]
        negatives[i, rows, cols] = a[0] >= 0.5
        labels[i, rows, cols][a[0] > 0] = IGNORE_INDEX
    return Pasted(images=images, labels=labels, negatives=negatives)


def real_negative_patches(
    source: NegativeSource, rng: np.random.Generator, n: int, patch_hw: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """n negatives from a data.negatives source: rgb [n, 3, h, w] in [0, 1], alpha [n, 1, h, w]."""
    rgbs, alphas = [], []
    for _ in range(n):
        rgb, alpha = source.sample(rng, patch_hw[0], patch_hw[1])
        rgbs.append(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0)
        alphas.append(torch.from_numpy(np.asarray(alpha, dtype=np.float32))[None])
    return torch.stack(rgbs), torch.stack(alphas)
