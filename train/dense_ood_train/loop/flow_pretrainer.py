"""Flow pretraining: maximum likelihood on inlier patches before the joint NFlowJS phase.

The paper and its group start joint training from a flow that already models inlier crops;
trained from scratch inside the joint loop, a small flow never gets there and its samples stay
noise. `FlowPretrainer` trains the flow of a TrainConfig alone, on patches cut from the same
augmented training crops at the sizes the negative synthesis draws, and measures held-out
bits/dim per patch size on the validation images. Its checkpoint records the architecture, so
`fit` (with `flow.pretrained`) refuses a flow built differently.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from dense_ood_ros.console.json_output import write_json
from dense_ood_train.config import TrainConfig, TrainingError
from dense_ood_train.loop.checkpoint import FLOW_KIND, read_checkpoint, save_checkpoint
from dense_ood_train.loop.data_setup import build_datasets, collate_pairs
from dense_ood_train.loop.train_log import TrainLogger
from dense_ood_train.loop.trainer import infinite_batches, resolve_device, seed_everything
from dense_ood_train.method.flow_monitor import sample_statistics, save_sample_grid
from dense_ood_train.method.synthesis import crop_boxes, patch_sizes, random_boxes, sample_patch_hw
from dense_ood_train.models import Glow, build_flow, flow_architecture

FLOW_CHECKPOINT = "flow.pt"
SAMPLES_DIR = "samples"
HELDOUT_PATCHES = 64  # held-out patches per size
HELDOUT_IMAGES = 32  # validation images they are cut from (at most)
HELDOUT_SIZES = 5  # square sizes, spread over the synthesis's range


@dataclass
class HeldOut:
    """Fixed validation patches per square side, scored without dequantization noise."""

    patches: dict[int, torch.Tensor]  # side -> uint8 [HELDOUT_PATCHES, 3, side, side]

    @classmethod
    def from_images(cls, images: list[np.ndarray], sides: list[int], seed: int) -> HeldOut:
        rng = np.random.default_rng([seed, 0xF10])
        patches = {}
        for side in sides:
            fitting = [im for im in images if min(im.shape[:2]) >= side]
            if not fitting:
                continue
            cut = []
            for _ in range(HELDOUT_PATCHES):
                image = fitting[int(rng.integers(len(fitting)))]
                top = int(rng.integers(0, image.shape[0] - side + 1))
                left = int(rng.integers(0, image.shape[1] - side + 1))
                cut.append(image[top : top + side, left : left + side])
            patches[side] = torch.from_numpy(np.stack(cut)).permute(0, 3, 1, 2).contiguous()
        return cls(patches)

    @torch.no_grad()
    def bits_per_dim(self, flow: Glow, device: torch.device) -> dict[str, float]:
        """{'bpd_<side>': value, ..., 'bpd_mean': mean over sides} on the held-out patches."""
        was_training = flow.training
        flow.eval()
        values = {
            f"bpd_{side}": float(flow.bits_per_dim(p.to(device), dequantize=False).mean())
            for side, p in self.patches.items()
        }
        flow.train(was_training)
        values["bpd_mean"] = float(np.mean(list(values.values())))
        return values


def heldout_sides(sizes: list[int], crop_hw: tuple[int, int]) -> list[int]:
    """Up to HELDOUT_SIZES square sides from the synthesis sizes that fit the crop, spread out."""
    fitting = [s for s in sizes if s <= min(crop_hw)] or sizes[:1]
    picks = np.linspace(0, len(fitting) - 1, min(HELDOUT_SIZES, len(fitting)))
    return sorted({fitting[round(float(i))] for i in picks})


class FlowPretrainer:
    """Trains `config`'s flow alone for `steps` steps (or `minutes` of training time) into
    `output_dir`: flow.pt, train.csv, heldout.csv, samples/step_*.png and summary.json."""

    def __init__(
        self,
        config: TrainConfig,
        output_dir: str | Path,
        steps: int,
        eval_every: int = 500,
        minutes: float | None = None,
        patches_per_image: int = 4,
        resume: bool = False,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.output_dir = Path(output_dir)
        self.steps = steps
        self.eval_every = eval_every
        self.minutes = minutes
        self.patches_per_image = patches_per_image
        self.progress = progress
        if config.runtime.threads:
            torch.set_num_threads(config.runtime.threads)
        seed_everything(config.seed)
        self.device = resolve_device(config.runtime.device)
        self.step = 0
        self.train_seconds = 0.0
        self.history: list[dict[str, float]] = []
        self._build_data()
        self.flow = build_flow(config.flow).to(self.device)
        self.sizes = patch_sizes(
            config.data.crop_hw,
            self.flow.scale_factor,
            config.negatives.patch_min,
            config.negatives.patch_max,
            config.negatives.patch_step,
            config.negatives.reference_height,
        )
        sides = heldout_sides(self.sizes, config.data.crop_hw)
        self.heldout = HeldOut.from_images(self._validation_images(), sides, config.seed)
        self.grid_hw = (max(sides), max(sides))
        self.optimizer = torch.optim.Adamax(
            self.flow.parameters(), lr=config.flow.warmup_lr, weight_decay=config.flow.weight_decay
        )
        self.rng = np.random.default_rng([config.seed, 0xF1])
        if resume:
            self._resume(self.output_dir / FLOW_CHECKPOINT)
        else:
            self._initialize()

    def _build_data(self) -> None:
        train_set, self.val_set = build_datasets(self.config, progress=self.progress)
        if self.val_set is None or len(self.val_set) == 0:
            raise TrainingError("pretrain-flow needs validation images for held-out bits/dim")
        generator = torch.Generator().manual_seed(self.config.seed)
        self.sampler = RandomSampler(train_set, generator=generator)
        self.loader = DataLoader(
            train_set,
            batch_size=self.config.data.batch_size,
            sampler=self.sampler,
            num_workers=self.config.data.num_workers,
            collate_fn=collate_pairs,
            drop_last=True,
        )
        if len(self.loader) == 0:
            raise TrainingError(f"training set has fewer images than one batch ({len(train_set)})")

    def _validation_images(self) -> list[np.ndarray]:
        count = min(len(self.val_set), HELDOUT_IMAGES)
        return [np.asarray(self.val_set[i][0], dtype=np.uint8) for i in range(count)]

    def _initialize(self) -> None:
        """Data-dependent ActNorm initialisation from one batch of training patches."""
        images, _ = next(iter(self.loader))
        self.flow.initialize(self._patches(images.to(self.device)))

    def _resume(self, path: Path) -> None:
        state = read_checkpoint(path, map_location=self.device)
        if state.get("kind") != FLOW_KIND:
            raise TrainingError(f"{path}: not a pretrain-flow checkpoint")
        if state["architecture"] != flow_architecture(self.config.flow):
            raise TrainingError(f"{path}: its flow architecture differs from the config's")
        self.flow.load_state_dict(state["flow"])
        self.optimizer.load_state_dict(state["opt_flow"])
        self.step = int(state["step"])
        self.train_seconds = float(state["train_seconds"])
        self.history = list(state.get("history") or [])

    def _patches(self, images: torch.Tensor) -> torch.Tensor:
        """patches_per_image random patches of one drawn size per image: uint8 [N*k, 3, h, w]."""
        crop_hw = (images.shape[2], images.shape[3])
        patch_hw = sample_patch_hw(self.rng, self.sizes, crop_hw)
        repeated = images.repeat_interleave(self.patches_per_image, dim=0)
        boxes = random_boxes(self.rng, repeated.shape[0], crop_hw, patch_hw)
        return crop_boxes(repeated, boxes)

    def _out_of_time(self) -> bool:
        return self.minutes is not None and self.train_seconds >= 60.0 * self.minutes

    def fit(self) -> dict[str, Any]:
        """Train until `steps` (or the time budget), evaluating every `eval_every` steps."""
        logger = TrainLogger(self.output_dir)
        if self.step == 0:
            self._evaluate(logger)  # the "before" picture and numbers
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.steps, initial=self.step, desc="pretrain-flow", unit="step")
        batches = infinite_batches(self.loader, self.sampler)
        self.flow.train()
        while self.step < self.steps and not self._out_of_time():
            images, _ = next(batches)
            tick = time.perf_counter()
            loss = self._train_step(images.to(self.device))
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.train_seconds += time.perf_counter() - tick
            self.step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(bpd=f"{loss:.3f}")
            if self.step % self.config.log.every == 0:
                logger.log(self.step, "train", {"bpd": loss, "train_minutes": self.minutes_used})
            if self.step % self.eval_every == 0:
                self._evaluate(logger)
        if bar is not None:
            bar.close()
        if not self.history or self.history[-1]["step"] != self.step:
            self._evaluate(logger)
        logger.close()
        summary = self.summary()
        write_json(self.output_dir / "summary.json", summary)
        return summary

    @property
    def minutes_used(self) -> float:
        return self.train_seconds / 60.0

    def _train_step(self, images: torch.Tensor) -> float:
        loss = self.flow.bits_per_dim(self._patches(images)).mean()
        self.optimizer.zero_grad(set_to_none=True)
        if not math.isfinite(float(loss.detach())):
            return float("nan")  # skip: a non-finite step would poison Adamax's state
        loss.backward()
        if self.config.flow.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.flow.parameters(), self.config.flow.grad_clip)
        self.optimizer.step()
        return float(loss.detach())

    def _evaluate(self, logger: TrainLogger) -> None:
        """Held-out bits/dim, sample statistics and a sample grid; then a checkpoint."""
        row: dict[str, float] = {"step": self.step, "train_minutes": self.minutes_used}
        row.update(self.heldout.bits_per_dim(self.flow, self.device))
        stats = sample_statistics(self.flow, 16, self.grid_hw, self.config.flow.temperature)
        row.update(stats)
        self.history.append(row)
        logger.log(self.step, "heldout", row)
        save_sample_grid(
            self.flow, self.output_dir / SAMPLES_DIR / f"step_{self.step:06d}.png", self.grid_hw
        )
        self.save()

    def summary(self) -> dict[str, Any]:
        return {
            "architecture": flow_architecture(self.config.flow),
            "parameters": sum(p.numel() for p in self.flow.parameters()),
            "steps": self.step,
            "train_minutes": self.minutes_used,
            "patch_sizes": self.sizes,
            "heldout_first": self.history[0] if self.history else None,
            "heldout_last": self.history[-1] if self.history else None,
        }

    def save(self) -> Path:
        state = {
            "kind": FLOW_KIND,
            "architecture": flow_architecture(self.config.flow),
            "flow": self.flow.state_dict(),
            "opt_flow": self.optimizer.state_dict(),
            "step": self.step,
            "train_seconds": self.train_seconds,
            "history": self.history,
            "config": self.config.to_dict(),
        }
        return save_checkpoint(self.output_dir / FLOW_CHECKPOINT, state)
