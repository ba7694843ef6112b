"""Watching the flow's own samples, so that a collapse is visible while training.

A flow that the segmenter's gradient has turned into a noise generator shows it in a few
numbers: its samples clip (saturated colours), lose spatial structure or all look alike, and
become unlikely under the flow itself. `sample_statistics` gives those numbers for the training
log; `save_sample_grid` writes a PNG of samples at several temperatures for people to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from dense_ood_train.models.flow import Glow

GRID_TEMPERATURES = (0.5, 0.7, 1.0)


def _forked_rng(device: torch.device):
    """Sampling for monitoring must not move the training run's random stream."""
    devices = [device] if device.type == "cuda" else []
    return torch.random.fork_rng(devices=devices)


@torch.no_grad()
def sample_statistics(
    flow: Glow, n: int, patch_hw: tuple[int, int], temperature: float, seed: int = 0
) -> dict[str, float]:
    """Figures of n fresh samples: their bits/dim under the flow, colour mean and spread, clipping.

    - sample_bpd: bits/dim of the 8-bit-quantised samples (low = the flow finds them likely);
    - sample_mean, sample_std: mean and within-patch standard deviation, on the 0..255 scale;
    - sample_diversity: standard deviation of the per-sample mean colours (0 = all alike);
    - sample_clipped: share of values outside [0, 1] before clamping (saturation).
    """
    device = next(flow.parameters()).device
    with _forked_rng(device):
        torch.manual_seed(seed)
        raw = flow.sample(n, *patch_hw, temperature=temperature)
    clipped = float(((raw < 0) | (raw > 1) | ~torch.isfinite(raw)).float().mean())
    rgb = torch.nan_to_num(raw, nan=0.5).clamp(0.0, 1.0)
    quantised = (rgb * 255.0).round()
    was_training = flow.training
    flow.eval()  # scoring must not initialise ActNorm from samples
    bpd = float(flow.bits_per_dim(quantised, dequantize=False).mean())
    flow.train(was_training)
    return {
        "sample_bpd": bpd,
        "sample_mean": float(rgb.mean()) * 255.0,
        "sample_std": float(rgb.std(dim=(2, 3)).mean()) * 255.0,
        "sample_diversity": float(rgb.mean(dim=(2, 3)).std(dim=0).mean()) * 255.0,
        "sample_clipped": clipped,
    }


@torch.no_grad()
def sample_grid(
    flow: Glow,
    patch_hw: tuple[int, int],
    temperatures: Sequence[float] = GRID_TEMPERATURES,
    per_row: int = 8,
    seed: int = 0,
    zoom: int = 2,
) -> np.ndarray:
    """RGB uint8 image: one row of `per_row` samples per temperature, labelled on the left."""
    device = next(flow.parameters()).device
    height, width = patch_hw[0] * zoom, patch_hw[1] * zoom
    gap, margin = 4, 56
    rows = []
    for temperature in temperatures:
        with _forked_rng(device):
            torch.manual_seed(seed)
            samples = flow.sample(per_row, *patch_hw, temperature=temperature)
        pixels = torch.nan_to_num(samples, nan=0.5).clamp(0, 1).mul(255).round().byte()
        tiles = pixels.permute(0, 2, 3, 1).cpu().numpy()
        row = np.full((height, margin + per_row * (width + gap), 3), 255, dtype=np.uint8)
        for i, tile in enumerate(tiles):
            left = margin + i * (width + gap)
            row[:, left : left + width] = cv2.resize(
                tile, (width, height), interpolation=cv2.INTER_NEAREST
            )
        cv2.putText(
            row, f"T={temperature:g}", (4, height // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
            (0, 0, 0), 1, cv2.LINE_AA,
        )  # fmt: skip
        rows.append(row)
        rows.append(np.full((gap, row.shape[1], 3), 255, dtype=np.uint8))
    return np.concatenate(rows[:-1])


def save_sample_grid(flow: Glow, path: Path, patch_hw: tuple[int, int], seed: int = 0) -> Path:
    """Write `sample_grid` as a PNG (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sample_grid(flow, patch_hw, seed=seed)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    return path
