"""The NFlowJS trainer: joint segmenter + flow optimisation with checkpoints, logs and DDP.

Two optimisers share one backward pass: the segmenter's (AdamW or SGD, warm-up then cosine or
poly decay) and the flow's (Adamax, constant rate). Optional flow warm-up steps train the flow
alone by maximum likelihood on inlier patches before the joint phase. Under `torchrun` with
WORLD_SIZE > 1 the joint model runs in DistributedDataParallel; only rank 0 logs and saves.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Iterator, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler

from dense_ood_ros.console.json_output import write_json
from dense_ood_train.config import TrainConfig, TrainConfigError, TrainingError
from dense_ood_train.loop.checkpoint import (
    load_pretrained_flow,
    load_segmenter_weights,
    read_checkpoint,
    save_checkpoint,
)
from dense_ood_train.loop.data_setup import build_datasets, build_negative_source, collate_pairs
from dense_ood_train.loop.provenance import source_commit
from dense_ood_train.loop.segmenter_validation import evaluate_segmenter
from dense_ood_train.loop.train_log import TrainLogger
from dense_ood_train.method.flow_monitor import sample_statistics, save_sample_grid
from dense_ood_train.method.joint import FLOW_MODES, OBJECT_MODES, JointModel
from dense_ood_train.method.losses import LossTerms
from dense_ood_train.method.synthesis import crop_boxes, random_boxes, sample_patch_hw
from dense_ood_train.models import (
    Glow,
    Segmenter,
    build_flow,
    build_segmenter,
    flow_architecture,
)

LAST_CHECKPOINT = "last.pt"
FLOW_SAMPLES_DIR = "flow_samples"  # a grid of flow samples per checkpoint
MAX_CONSECUTIVE_SKIPS = 20
MONITOR_SAMPLES = 8  # fresh flow samples scored at every log step


@dataclass
class DistInfo:
    """Where this process sits in a (possibly single-process) job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(device: str = "auto") -> torch.device:
    """runtime.device -> the torch device of a single-process run."""
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainConfigError("runtime.device is 'cuda' but no CUDA device is available")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the torchrun process group (env:// rendezvous) when WORLD_SIZE > 1."""
    use_cuda = resolve_device(device).type == "cuda"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(device=torch.device("cuda" if use_cuda else "cpu"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", init_method="env://")
    return DistInfo(
        rank=dist.get_rank(),
        world_size=world_size,
        local_rank=local_rank,
        device=torch.device(f"cuda:{local_rank}" if use_cuda else "cpu"),
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_factor(step: int, config: TrainConfig) -> float:
    """Segmenter learning-rate multiplier at joint step `step`: linear warm-up, then decay."""
    optim = config.optim
    if optim.warmup_steps and step < optim.warmup_steps:
        return (step + 1) / optim.warmup_steps
    progress = min(1.0, (step - optim.warmup_steps) / max(1, optim.steps - optim.warmup_steps))
    if optim.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if optim.schedule == "poly":
        return (1.0 - progress) ** optim.poly_power
    return 1.0


def build_segmenter_optimizer(segmenter: Segmenter, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD with two groups: backbone (lr * backbone_lr_mult) and decoder (lr); the
    decoder's alone when the encoder is frozen."""
    optim = config.optim
    backbone, head = segmenter.parameter_groups()
    groups = [{"params": head, "lr": optim.lr, "base_lr_mult": 1.0}]
    if not optim.freeze_encoder:
        backbone_group = {
            "params": backbone,
            "lr": optim.lr * optim.backbone_lr_mult,
            "base_lr_mult": optim.backbone_lr_mult,
        }
        groups.insert(0, backbone_group)
    if optim.name == "sgd":
        return torch.optim.SGD(
            groups, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
        )
    return torch.optim.AdamW(groups, lr=optim.lr, weight_decay=optim.weight_decay)


def infinite_batches(
    loader: DataLoader, sampler: Any
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The loader's batches epoch after epoch (the sampler told each new epoch)."""
    epoch = 0
    while True:
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


class Trainer:
    """Builds everything from a TrainConfig and runs `fit()` into `output_dir`."""

    def __init__(
        self,
        config: TrainConfig,
        output_dir: str | Path,
        resume: bool = False,
        max_steps: int | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.output_dir = Path(output_dir)
        self.progress = progress
        self.dist = init_distributed(config.runtime.device)
        if config.runtime.threads:
            torch.set_num_threads(config.runtime.threads)
        seed_everything(config.seed + self.dist.rank)
        self.device = self.dist.device
        self.warmup_steps = config.flow.warmup_steps if config.negatives.mode in FLOW_MODES else 0
        self.total_steps = self.warmup_steps + config.optim.steps
        if max_steps is not None:
            self.total_steps = min(self.total_steps, max_steps)
        self.step = 0
        self.skipped_steps = 0
        self.consecutive_skips = 0
        self.metrics: dict[str, Any] = {}
        self.source_commit = source_commit()
        self._build_data()
        self._build_models()
        if resume:
            self._resume(self.output_dir / LAST_CHECKPOINT)
        self.rng = np.random.default_rng([config.seed, self.dist.rank, self.step])

    # --- construction -------------------------------------------------------------------

    def _build_data(self) -> None:
        data = self.config.data
        train_set, val_set = build_datasets(
            self.config, progress=self.progress and self.dist.is_main
        )
        if self.dist.world_size > 1:
            self.sampler: Sampler = DistributedSampler(
                train_set, shuffle=True, seed=self.config.seed
            )
        else:
            generator = torch.Generator().manual_seed(self.config.seed)
            self.sampler = RandomSampler(train_set, generator=generator)
        self.train_loader = DataLoader(
            train_set,
            batch_size=data.batch_size,
            sampler=self.sampler,
            num_workers=data.num_workers,
            collate_fn=collate_pairs,
            drop_last=True,
            pin_memory=self.device.type == "cuda",
            persistent_workers=data.num_workers > 0,
        )
        if len(self.train_loader) == 0:
            raise TrainingError(
                f"training set has {len(train_set)} images, "
                f"fewer than one batch of {data.batch_size}"
            )
        self.val_loader = None
        if val_set is not None and len(val_set) > 0:
            self.val_loader = DataLoader(
                val_set,
                batch_size=data.val_batch_size,
                shuffle=False,
                num_workers=data.num_workers,
                collate_fn=collate_pairs,
            )

    def _build_models(self) -> None:
        config = self.config
        mode = config.negatives.mode
        segmenter = build_segmenter(config.model)
        if config.model.init_checkpoint:
            load_segmenter_weights(config.model.init_checkpoint, segmenter)
        if config.optim.freeze_encoder:
            segmenter.freeze_encoder()
        flow = build_flow(config.flow) if mode in FLOW_MODES else None
        source = build_negative_source(config) if mode in OBJECT_MODES else None
        self.model = JointModel(segmenter, flow, config, source).to(self.device)
        self.model.amp = config.runtime.amp and self.device.type == "cuda"
        if flow is not None:
            self._prepare_flow(flow)
        if self.dist.world_size > 1 and config.runtime.sync_bn and self.device.type == "cuda":
            synced = nn.SyncBatchNorm.convert_sync_batchnorm(self.model.segmenter)
            self.model.segmenter = cast(Segmenter, synced)  # the same module, BN swapped
        self.opt_seg = build_segmenter_optimizer(self.model.segmenter, config)
        self.opt_flow = None
        if flow is not None and self.model.flow_frozen and not self.warmup_steps:
            flow.requires_grad_(False)
        elif flow is not None:
            self.opt_flow = torch.optim.Adamax(
                flow.parameters(), lr=config.flow.lr, weight_decay=config.flow.weight_decay
            )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.model.amp)
        self.ddp: nn.Module = self.model
        if self.dist.world_size > 1:
            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            self.ddp = nn.parallel.DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=self._some_parameters_idle()
            )

    def _some_parameters_idle(self) -> bool:
        """Whether some steps leave parameters without gradient (DDP must then search them)."""
        flow = self.config.flow
        return (
            self.warmup_steps > 0
            or self.config.negatives.probability < 1.0
            or self.config.negatives.mode in ("flow+real", "flow+coco")
            or not (flow.joint_gradient or flow.nll_weight > 0)
        )

    def _prepare_flow(self, flow: Glow) -> None:
        """Load pretrained flow weights, or initialise ActNorm from a batch of inlier patches."""
        pretrained = self.config.flow.pretrained
        if pretrained:
            load_pretrained_flow(pretrained, flow, flow_architecture(self.config.flow))
            return
        if self.model.flow_frozen and not self.warmup_steps:
            raise TrainingError(
                "flow.lr is 0 (a frozen flow) but there is no flow.pretrained and no "
                "flow.warmup_steps: pretrain one with `dense-ood-train pretrain-flow`"
            )
        images, _ = next(iter(self.train_loader))
        crop_hw = (images.shape[2], images.shape[3])
        rng = np.random.default_rng(self.config.seed)
        patch_hw = sample_patch_hw(rng, self.model.patch_sizes, crop_hw)
        boxes = random_boxes(rng, images.shape[0], crop_hw, patch_hw)
        flow.initialize(crop_boxes(images, boxes).to(self.device))

    def _resume(self, path: Path) -> None:
        state = read_checkpoint(path, map_location=self.device)
        self.model.segmenter.load_state_dict(state["segmenter"])
        if self.model.flow is not None:
            if state.get("flow") is None:
                raise TrainingError(f"{path}: checkpoint has no flow but negatives.mode is 'flow'")
            self.model.flow.load_state_dict(state["flow"])
            if state.get("opt_flow") is not None and self.opt_flow is not None:
                self.opt_flow.load_state_dict(state["opt_flow"])
        self.opt_seg.load_state_dict(state["opt_seg"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.metrics = dict(state.get("metrics") or {})
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"].cpu())

    def describe(self) -> str:
        """One line about the run: data, model sizes, steps, device."""

        def millions(module: nn.Module | None) -> float:
            return sum(p.numel() for p in module.parameters()) / 1e6 if module else 0.0

        val = len(cast(Sized, self.val_loader.dataset)) if self.val_loader is not None else 0
        return (
            f"fit: {len(cast(Sized, self.train_loader.dataset))} training / {val} validation "
            "images, "
            f"segmenter {millions(self.model.segmenter):.2f}M + flow "
            f"{millions(self.model.flow):.2f}M parameters, negatives "
            f"'{self.config.negatives.mode}', steps {self.step}..{self.total_steps} on "
            f"{self.device} x{self.dist.world_size}"
        )

    # --- training -----------------------------------------------------------------------

    def _set_learning_rates(self) -> bool:
        """Set this step's rates; returns True while in the flow warm-up phase."""
        warmup = self.step < self.warmup_steps
        factor = lr_factor(self.step - self.warmup_steps, self.config) if not warmup else 0.0
        for group in self.opt_seg.param_groups:
            group["lr"] = self.config.optim.lr * group["base_lr_mult"] * factor
        if self.opt_flow is not None:
            flow_lr = self.config.flow.warmup_lr if warmup else self.config.flow.lr
            for group in self.opt_flow.param_groups:
                group["lr"] = flow_lr
        return warmup

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> LossTerms:
        """One optimisation step of both networks (only the flow's during warm-up)."""
        warmup = self._set_learning_rates()
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        self.opt_seg.zero_grad(set_to_none=True)
        if self.opt_flow is not None:
            self.opt_flow.zero_grad(set_to_none=True)
        terms = self.ddp(images, labels, self.rng, warmup=warmup)
        # Backward even for a non-finite loss: under DDP every rank must join the all-reduce;
        # the (all-reduced, hence identical) gradients then tell every rank to skip alike.
        self.scaler.scale(terms.total).backward()
        if not self.scaler.is_enabled() and not self._gradients_finite():
            self._skip_step(terms)
            return terms
        if not warmup:
            self._clip_and_step(self.opt_seg, self.model.segmenter, self.config.optim.grad_clip)
        if self.opt_flow is not None and self.model.flow is not None:
            self._clip_and_step(self.opt_flow, self.model.flow, self.config.flow.grad_clip)
        self.scaler.update()  # with AMP the scaler itself skips steps with inf/NaN gradients
        self.consecutive_skips = 0
        return terms

    def _gradients_finite(self) -> bool:
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        return bool(torch.stack([g.isfinite().all() for g in grads]).all()) if grads else True

    def _skip_step(self, terms: LossTerms) -> None:
        """Drop this step's update (non-finite loss or gradients); give up after a run of them."""
        self.opt_seg.zero_grad(set_to_none=True)
        if self.opt_flow is not None:
            self.opt_flow.zero_grad(set_to_none=True)
        self.skipped_steps += 1
        self.consecutive_skips += 1
        if self.consecutive_skips >= MAX_CONSECUTIVE_SKIPS:
            raise TrainingError(
                f"{self.consecutive_skips} consecutive non-finite steps up to step {self.step} "
                f"(last losses {terms.as_floats()}); lower the learning rates"
            )

    def _clip_and_step(
        self, optimizer: torch.optim.Optimizer, module: nn.Module, clip: float
    ) -> None:
        if clip > 0:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        self.scaler.step(optimizer)

    def fit(self) -> dict[str, Any]:
        """Train until `total_steps`, validating and checkpointing on the configured cadence."""
        log = self.config.log
        logger = TrainLogger(self.output_dir, log.format) if self.dist.is_main else None
        if self.dist.is_main:
            (self.output_dir / "config.yaml").write_text(self.config.to_yaml())
        bar = None
        if self.progress and self.dist.is_main:
            from tqdm import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, desc="fit", unit="step")
        batches = infinite_batches(self.train_loader, self.sampler)
        window = {"time": 0.0, "images": 0, "flow_sample": 0.0, "steps": 0}
        self.model.train()
        started = time.perf_counter()
        while self.step < self.total_steps:
            images, labels = next(batches)
            tick = time.perf_counter()
            self.model.timings.clear()
            terms = self.train_step(images, labels)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            window["time"] += time.perf_counter() - tick
            window["images"] += images.shape[0] * self.dist.world_size
            window["flow_sample"] += self.model.timings.get("flow_sample_s", 0.0)
            window["steps"] += 1
            self.step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(terms.total.detach()):.3f}")
            if logger and (self.step % log.every == 0 or self.step == self.total_steps):
                row = self._train_row(terms, window)
                logger.log(self.step, "train", row)
                self.metrics["train"] = row
                window = {"time": 0.0, "images": 0, "flow_sample": 0.0, "steps": 0}
            if log.val_every and self.step % log.val_every == 0 and self.step < self.total_steps:
                self._validate(logger)
            if log.checkpoint_every and self.step % log.checkpoint_every == 0:
                self.save()
        if bar is not None:
            bar.close()
        self._validate(logger)
        self.metrics["wall_s"] = self.metrics.get("wall_s", 0.0) + time.perf_counter() - started
        self.save()
        if logger:
            logger.close()
            write_json(self.output_dir / "summary.json", self.metrics)
        return self.metrics

    def _train_row(self, terms: LossTerms, window: dict[str, float]) -> dict[str, float]:
        row = terms.as_floats()
        row["lr"] = self.opt_seg.param_groups[-1]["lr"]
        row["images_per_s"] = window["images"] / max(window["time"], 1e-9)
        row["step_s"] = window["time"] / max(window["steps"], 1)
        row["flow_sample_share"] = window["flow_sample"] / max(window["time"], 1e-9)
        row["skipped_steps"] = self.skipped_steps
        row.update(self.model.stats)
        if self.model.flow is not None:
            row.update(
                sample_statistics(
                    self.model.flow,
                    MONITOR_SAMPLES,
                    self.monitor_patch_hw,
                    self.config.flow.temperature,
                    seed=self.step,
                )
            )
        return row

    @property
    def monitor_patch_hw(self) -> tuple[int, int]:
        """The largest square negative patch that fits the crop: the size flow samples are
        watched at in the log and the sample grids."""
        fitting = [s for s in self.model.patch_sizes if s <= min(self.config.data.crop_hw)]
        side = max(fitting or self.model.patch_sizes[:1])
        return side, side

    def _validate(self, logger: TrainLogger | None) -> None:
        """mIoU on the validation set (rank 0 only; the others wait at a barrier)."""
        if self.val_loader is not None and self.dist.is_main:
            result = evaluate_segmenter(
                self.model.segmenter, self.val_loader, self.config.model.num_classes, self.device
            )
            self.metrics["val"] = {**result, "step": self.step}
            if logger:
                logger.log(self.step, "val", {k: v for k, v in result.items() if k != "class_iou"})
        if self.dist.world_size > 1:
            dist.barrier()

    def state_dict(self) -> dict[str, Any]:
        flow = self.model.flow
        return {
            "step": self.step,
            "config": self.config.to_dict(),
            "segmenter": self.model.segmenter.state_dict(),
            "flow": flow.state_dict() if flow is not None else None,
            "opt_seg": self.opt_seg.state_dict(),
            "opt_flow": self.opt_flow.state_dict() if self.opt_flow is not None else None,
            "scaler": self.scaler.state_dict(),
            "metrics": self.metrics,
            "torch_rng": torch.get_rng_state(),
            "source_commit": self.source_commit,
        }

    def save(self) -> Path | None:
        """Write output_dir/last.pt on rank 0."""
        if not self.dist.is_main:
            return None
        if self.model.flow is not None:
            grid = self.output_dir / FLOW_SAMPLES_DIR / f"step_{self.step:06d}.png"
            save_sample_grid(self.model.flow, grid, self.monitor_patch_hw)
        return save_checkpoint(self.output_dir / LAST_CHECKPOINT, self.state_dict())
