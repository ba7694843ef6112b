"""One NFlowJS training forward pass as a module: synthesise, paste, segment, compute the loss.

Keeping the whole step inside one `forward` lets DistributedDataParallel wrap segmenter and
flow together (DDP only synchronises gradients of modules called through `forward`), and gives
tests a single object to step.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dense_ood_train.config import TrainConfig, TrainingError
from dense_ood_train.data.negatives import NegativeSource
from dense_ood_train.method.losses import LossTerms, joint_loss, negative_jsd
from dense_ood_train.method.synthesis import (
    crop_boxes,
    paste_patches,
    patch_sizes,
    random_boxes,
    real_negative_patches,
    sample_patch_hw,
)
from dense_ood_train.models import Segmenter
from dense_ood_train.models.flow import Glow
from dense_ood_train.models.normalization import Normalize

#: negatives.mode values that paste flow samples, and those that paste objects from a source.
FLOW_MODES = ("flow", "flow+real", "flow+coco")
OBJECT_MODES = ("real", "coco", "flow+real", "flow+coco")


@dataclass
class Negatives:
    """The patches of one step and where they came from."""

    patches: torch.Tensor  # [N, 3, h, w] in [0, 1]
    alpha: torch.Tensor | None  # [N, 1, h, w] shape of object negatives; None = whole patch
    nll: torch.Tensor | None  # the flow's bits/dim on the inlier patches they replace
    from_flow: torch.Tensor  # [N] bool: the image got a flow sample (else an object or noise)


class JointModel(nn.Module):
    """Segmenter + optional flow; `forward` returns the NFlowJS loss of one batch.

    Modes (config.negatives.mode): "flow" pastes flow samples (the method), "none" trains the
    plain segmenter, "real" pastes procedural objects (or a folder's), "coco" real COCO object
    photos (both outlier exposure), "flow+real" and "flow+coco" give each image a flow sample
    with probability negatives.flow_share and an object otherwise, "noise" pastes i.i.d.
    uniform noise (an ablation).

    The flow's share of the loss follows config.flow: with `joint_gradient` the samples stay
    attached (the segmenter's loss reaches the flow), without it they are detached; with
    `lr: 0` the flow is frozen (detached samples, no likelihood term).
    """

    def __init__(
        self,
        segmenter: Segmenter,
        flow: Glow | None,
        config: TrainConfig,
        negative_source: NegativeSource | None = None,
    ) -> None:
        super().__init__()
        self.segmenter = segmenter
        self.flow = flow
        self.config = config
        self.negative_source = negative_source
        self.normalize = Normalize()
        self.amp = False
        self.timings: dict[str, float] = {}
        self.stats: dict[str, float] = {}  # detached per-step figures for the training log
        negatives = config.negatives
        if negatives.mode in FLOW_MODES and flow is None:
            raise TrainingError(f"negatives.mode {negatives.mode!r} needs a flow")
        if negatives.mode in OBJECT_MODES and negative_source is None:
            raise TrainingError(f"negatives.mode {negatives.mode!r} needs a negative source")
        factor = flow.scale_factor if flow is not None else 8
        self.patch_sizes = patch_sizes(
            config.data.crop_hw,
            factor,
            negatives.patch_min,
            negatives.patch_max,
            negatives.patch_step,
            negatives.reference_height,
        )

    @property
    def glow(self) -> Glow:
        """The flow of a flow mode (the constructor refuses flow modes without one)."""
        if self.flow is None:
            raise TrainingError(f"negatives.mode {self.config.negatives.mode!r} has no flow")
        return self.flow

    @property
    def flow_frozen(self) -> bool:
        """The joint phase leaves the flow as it is (flow.lr 0)."""
        return self.config.flow.lr == 0

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
        x = self.normalize.from_uint8(images)
        negatives = torch.zeros(labels.shape, dtype=torch.bool, device=labels.device)
        drawn = None
        cfg = self.config.negatives
        self.stats.clear()
        if cfg.mode != "none" and rng.random() < cfg.probability:
            crop_hw = (images.shape[2], images.shape[3])
            patch_hw = sample_patch_hw(rng, self.patch_sizes, crop_hw)
            boxes = random_boxes(rng, images.shape[0], crop_hw, patch_hw)
            drawn = self._negatives(images, boxes, patch_hw, rng)
            pasted = paste_patches(x, labels, self.normalize(drawn.patches), boxes, drawn.alpha)
            x, labels, negatives = pasted.images, pasted.labels, pasted.negatives
        autocast = torch.autocast("cuda") if self.amp and x.is_cuda else nullcontext()
        with autocast:
            logits = self.segmenter(x).float()
        if drawn is not None:
            self._record_jsd_by_kind(logits, negatives, drawn.from_flow)
        nll = drawn.nll if drawn is not None else None
        return joint_loss(logits, labels, negatives, cfg.beta, nll, self.config.flow.nll_weight)

    def _negatives(
        self,
        images: torch.Tensor,
        boxes: list,
        patch_hw: tuple[int, int],
        rng: np.random.Generator,
    ) -> Negatives:
        n = images.shape[0]
        device = images.device
        mode = self.config.negatives.mode
        if mode == "noise":
            no_flow = torch.zeros(n, dtype=torch.bool, device=device)
            return Negatives(torch.rand(n, 3, *patch_hw, device=device), None, None, no_flow)
        from_flow = self._flow_rows(rng, n).to(device)
        patches = torch.zeros(n, 3, *patch_hw, device=device)
        alpha = None
        if not from_flow.all():
            if self.negative_source is None:
                raise TrainingError(f"negatives.mode {mode!r} needs a negative source")
            rgb, objects = real_negative_patches(
                self.negative_source, rng, int((~from_flow).sum()), patch_hw
            )
            patches[~from_flow] = rgb.to(device)
            alpha = torch.ones(n, 1, *patch_hw, device=device)
            alpha[~from_flow] = objects.to(device)
        nll = None
        if from_flow.any():
            patches[from_flow] = self._flow_samples(int(from_flow.sum()), patch_hw)
            nll = self._flow_nll(images, boxes)
        return Negatives(patches, alpha, nll, from_flow)

    def _flow_rows(self, rng: np.random.Generator, n: int) -> torch.Tensor:
        """Which images of the batch get a flow sample (the others get an object)."""
        mode = self.config.negatives.mode
        if mode == "flow":
            return torch.ones(n, dtype=torch.bool)
        if mode not in FLOW_MODES:
            return torch.zeros(n, dtype=torch.bool)
        return torch.from_numpy(rng.random(n) < self.config.negatives.flow_share)

    def _flow_samples(self, n: int, patch_hw: tuple[int, int]) -> torch.Tensor:
        """n flow samples in [0, 1], attached to the flow's graph only with joint_gradient."""
        attached = self.config.flow.joint_gradient and not self.flow_frozen
        start = time.perf_counter()
        with nullcontext() if attached else torch.no_grad():
            samples = self.glow.sample(n, *patch_hw, temperature=self.config.flow.temperature)
        self.timings["flow_sample_s"] = time.perf_counter() - start
        return samples.clamp(0.0, 1.0)

    def _flow_nll(self, images: torch.Tensor, boxes: list) -> torch.Tensor | None:
        """The flow's bits/dim on the inlier patches under the boxes (None when not learning)."""
        if self.flow_frozen or self.config.flow.nll_weight <= 0:
            return None
        start = time.perf_counter()
        nll = self.glow.bits_per_dim(crop_boxes(images, boxes)).mean()
        self.timings["flow_nll_s"] = time.perf_counter() - start
        return nll

    @torch.no_grad()
    def _record_jsd_by_kind(
        self, logits: torch.Tensor, negatives: torch.Tensor, from_flow: torch.Tensor
    ) -> None:
        """Mean JSD on flow-sample pixels and on the other negatives, for the training log."""
        rows = from_flow.view(-1, 1, 1)
        for name, mask in (("jsd_flow", negatives & rows), ("jsd_other", negatives & ~rows)):
            if mask.any():
                self.stats[name] = float(negative_jsd(logits, mask))

    def _warmup_loss(self, images: torch.Tensor, rng: np.random.Generator) -> LossTerms:
        """Flow-only maximum likelihood on random inlier patches (pre-training the flow)."""
        crop_hw = (images.shape[2], images.shape[3])
        patch_hw = sample_patch_hw(rng, self.patch_sizes, crop_hw)
        boxes = random_boxes(rng, images.shape[0], crop_hw, patch_hw)
        nll = self.glow.bits_per_dim(crop_boxes(images, boxes)).mean()
        zero = torch.zeros((), device=images.device)
        return LossTerms(total=nll, ce=zero, jsd=zero, nll=nll)
