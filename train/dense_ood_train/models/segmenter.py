"""A ladder-style segmenter (SwiftNet / LDN family): timm backbone + lightweight upsampling path.

The backbone gives features at strides 4, 8, 16 and 32; the decoder starts from the coarsest
(optionally through spatial pyramid pooling), and at each finer stride upsamples, adds a 1x1
lateral projection of the backbone feature and blends with a 3x3 convolution. Logits come out at
stride 4 and are bilinearly upsampled to the input size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import timm
import torch
import torch.nn.functional as F
from torch import nn

from dense_ood_train.models.frozen_encoder import FreezableEncoder


class ConvBNReLU(nn.Sequential):
    """Convolution, batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class SpatialPyramidPooling(nn.Module):
    """SwiftNet-style SPP: average pools on grids of `grids` cells along the short side, each
    projected to a few channels, upsampled, concatenated with the input and fused by a 1x1 conv.
    Pool kernels follow the feature size, so any input size works (and exports to ONNX)."""

    def __init__(
        self, in_channels: int, out_channels: int, grids: Sequence[int] = (1, 2, 4)
    ) -> None:
        super().__init__()
        branch = max(out_channels // len(grids), 8)
        self.grids = tuple(grids)
        self.project = ConvBNReLU(in_channels, out_channels, 1)
        self.branches = nn.ModuleList(ConvBNReLU(out_channels, branch, 1) for _ in self.grids)
        self.fuse = ConvBNReLU(out_channels + branch * len(self.grids), out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        height, width = x.shape[-2:]
        outputs = [x]
        for grid, branch in zip(self.grids, self.branches, strict=True):
            kernel = max(1, math.ceil(min(int(height), int(width)) / grid))
            pooled = F.avg_pool2d(x, kernel, stride=kernel, ceil_mode=True)
            pooled = branch(pooled)
            outputs.append(
                F.interpolate(pooled, size=(height, width), mode="bilinear", align_corners=False)
            )
        return self.fuse(torch.cat(outputs, dim=1))


class LadderDecoder(nn.Module):
    """Top-down path: upsample, add the lateral projection of the skip feature, blend (3x3)."""

    def __init__(self, in_channels: Sequence[int], width: int, spp: bool = True) -> None:
        super().__init__()
        *skips, deepest = in_channels
        self.top = SpatialPyramidPooling(deepest, width) if spp else ConvBNReLU(deepest, width, 1)
        self.laterals = nn.ModuleList(ConvBNReLU(c, width, 1) for c in reversed(skips))
        self.blends = nn.ModuleList(ConvBNReLU(width, width, 3) for _ in skips)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        *skips, deepest = features
        x = self.top(deepest)
        for skip, lateral, blend in zip(reversed(skips), self.laterals, self.blends, strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = blend(x + lateral(skip))
        return x


class LadderSegmenter(FreezableEncoder):
    """Normalised RGB [N, 3, H, W] -> logits [N, num_classes, H, W]."""

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet18",
        decoder_width: int = 128,
        spp: bool = True,
        pretrained: bool = False,
        pretrained_file: str | None = None,
        out_indices: Sequence[int] = (1, 2, 3, 4),
    ) -> None:
        super().__init__()
        kwargs: dict[str, Any] = {}
        if pretrained_file:
            kwargs["pretrained_cfg_overlay"] = {"file": str(pretrained_file)}
        self.backbone = timm.create_model(
            backbone,
            pretrained=pretrained or bool(pretrained_file),
            features_only=True,
            out_indices=tuple(out_indices),
            **kwargs,
        )
        channels = cast(Any, self.backbone).feature_info.channels()  # timm's FeatureInfo
        self.decoder = LadderDecoder(channels, decoder_width, spp)
        self.classifier = nn.Conv2d(decoder_width, num_classes, 1)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        logits = self.classifier(self.decoder(features))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    @property
    def encoder(self) -> nn.Module:
        return self.backbone

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(backbone parameters, decoder + classifier parameters), for per-group learning rates."""
        head = list(self.decoder.parameters()) + list(self.classifier.parameters())
        return list(self.backbone.parameters()), head
