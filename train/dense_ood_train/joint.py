"""One NFlowJS training forward pass as a module: synthesise, paste, segment, compute the loss.

Keeping the whole step inside one `forward` lets DistributedDataParallel wrap segmenter and
flow together (DDP only synchronises gradients of modules called through `forward`), and gives
tests a single object to step.
"""

from __future__ import annotations

import time
from contextlib import nullcontext

import numpy as np
import torch
from torch import nn

from dense_ood_train.config import TrainConfig
from dense_ood_train.export import IMAGENET_MEAN, IMAGENET_STD
from dense_ood_train.losses import LossTerms, joint_loss
from dense_ood_train.models.flow import Glow
from dense_ood_train.synthesis import (
    crop_boxes,
    paste_patches,
    patch_sizes,
    random_boxes,
    real_negative_patches,
    sample_patch_hw,
)


class Normalize(nn.Module):
    """uint8-valued RGB [N, 3, H, W] (0..255) -> ImageNet-normalised float; also for [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return (rgb01 - self.mean) / self.std


class JointModel(nn.Module):
    """Segmenter + optional flow; `forward` returns the NFlowJS loss of one batch.

    Modes (config.negatives.mode): "flow" pastes flow samples (the method), "none" trains the
    plain segmenter, "real" pastes objects from a data.negatives source (outlier exposure),
    "noise" pastes i.i.d. uniform noise (an ablation).
    """

    def __init__(
        self,
        segmenter: nn.Module,
        flow: Glow | None,
        config: TrainConfig,
        negative_source: object | None = None,
    ) -> None:
        super().__init__()
        self.segmenter = segmenter
        self.flow = flow
        self.config = config
        self.negative_source = negative_source
        self.normalize = Normalize()
        self.amp = False
        self.timings: dict[str, float] = {}
        negatives = config.negatives
        if negatives.mode == "flow" and flow is None:
            raise ValueError("negatives.mode 'flow' needs a flow")
        if negatives.mode == "real" and negative_source is None:
            raise ValueError("negatives.mode 'real' needs a negative source")
        factor = flow.scale_factor if flow is not None else 8
        self.patch_sizes = patch_sizes(
            config.data.crop_hw,
            factor,
            negatives.patch_min,
            negatives.patch_max,
            negatives.patch_step,
            negatives.reference_height,
        )

    def forward(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        rng: np.random.Generator,
        warmup: bool = False,
    ) -> LossTerms:
        """images uint8 [N, 3, H, W], labels int64 [N, H, W] -> LossTerms."""
        if warmup:
            return self._warmup_loss(images, rng)
        x = self.normalize(images.float() / 255.0)
        negatives = torch.zeros(labels.shape, dtype=torch.bool, device=labels.device)
        nll = None
        cfg = self.config.negatives
        if cfg.mode != "none" and rng.random() < cfg.probability:
            crop_hw = (images.shape[2], images.shape[3])
            patch_hw = sample_patch_hw(rng, self.patch_sizes, crop_hw)
            boxes = random_boxes(rng, images.shape[0], crop_hw, patch_hw)
            patches, alpha, nll = self._negatives(images, boxes, patch_hw, rng)
            pasted = paste_patches(x, labels, self.normalize(patches), boxes, alpha)
            x, labels, negatives = pasted.images, pasted.labels, pasted.negatives
        autocast = torch.autocast("cuda") if self.amp and x.is_cuda else nullcontext()
        with autocast:
            logits = self.segmenter(x)
        return joint_loss(
            logits.float(), labels, negatives, cfg.beta, nll, self.config.flow.nll_weight
        )

    def _negatives(
        self,
        images: torch.Tensor,
        boxes: list,
        patch_hw: tuple[int, int],
        rng: np.random.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(patches in [0, 1] [N, 3, h, w], alpha or None, flow bits/dim or None)."""
        n = images.shape[0]
        mode = self.config.negatives.mode
        if mode == "noise":
            return torch.rand(n, 3, *patch_hw, device=images.device), None, None
        if mode == "real":
            rgb, alpha = real_negative_patches(self.negative_source, rng, n, patch_hw)
            return rgb.to(images.device), alpha.to(images.device), None
        start = time.perf_counter()
        samples = self.flow.sample(n, *patch_hw, temperature=self.config.flow.temperature)
        self.timings["flow_sample_s"] = time.perf_counter() - start
        nll = None
        if self.config.flow.nll_weight > 0:
            start = time.perf_counter()
            nll = self.flow.bits_per_dim(crop_boxes(images, boxes)).mean()
            self.timings["flow_nll_s"] = time.perf_counter() - start
        return samples.clamp(0.0, 1.0), None, nll

    def _warmup_loss(self, images: torch.Tensor, rng: np.random.Generator) -> LossTerms:
        """Flow-only maximum likelihood on random inlier patches (pre-training the flow)."""
        crop_hw = (images.shape[2], images.shape[3])
        patch_hw = sample_patch_hw(rng, self.patch_sizes, crop_hw)
        boxes = random_boxes(rng, images.shape[0], crop_hw, patch_hw)
        nll = self.flow.bits_per_dim(crop_boxes(images, boxes)).mean()
        zero = torch.zeros((), device=images.device)
        return LossTerms(total=nll, ce=zero, jsd=zero, nll=nll)
