"""Checkpoints: one file holds the config, both networks, optimiser states and the step counter.

Everything inside is tensors and builtins, so loading uses `torch.load(weights_only=True)`
(no arbitrary pickles). `load_checkpoint` rebuilds the segmenter for export and evaluation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dense_ood_ros.errors import first_line
from dense_ood_train.config import ConfigError, TrainConfig, config_from_dict

CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """The file is missing or is not a dense_ood_train checkpoint."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write atomically (temporary file, then rename) so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict; CheckpointError with a one-line reason when unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({first_line(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a dense_ood_train checkpoint (format mismatch)")
    return state


def checkpoint_config(state: dict[str, Any], source: str = "checkpoint") -> TrainConfig:
    try:
        return config_from_dict(state["config"])
    except (KeyError, ConfigError) as exc:
        raise CheckpointError(f"{source}: its config is invalid ({exc})") from None


def load_checkpoint(path: str | Path) -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """(segmenter in eval mode on the CPU, its TrainConfig, extra) from a `fit` checkpoint.

    `extra` holds the rest: step, metrics, and the flow's state dict (or None).
    """
    from dense_ood_train.models import build_segmenter

    state = read_checkpoint(path)
    config = checkpoint_config(state, str(path))
    segmenter = build_segmenter(config.model, pretrained=False)
    try:
        segmenter.load_state_dict(state["segmenter"])
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: segmenter weights do not match its config ({first})"
        ) from None
    extra = {k: v for k, v in state.items() if k not in ("segmenter", "config")}
    return segmenter.eval(), config, extra
