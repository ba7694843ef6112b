"""The segmenter's input normalisation: RGB in [0, 1] -> ImageNet mean / std, as timm backbones
expect. One module for the training step, the validation and the exported graph."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalize(nn.Module):
    """RGB [N, 3, H, W] in [0, 1] -> (x - mean) / std per channel."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(tuple(mean)).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(tuple(std)).view(1, 3, 1, 1))

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return (rgb01 - self.mean) / self.std

    def from_uint8(self, images: torch.Tensor) -> torch.Tensor:
        """uint8-valued RGB (0..255, any dtype) -> normalised float."""
        return self(images.float() / 255.0)
