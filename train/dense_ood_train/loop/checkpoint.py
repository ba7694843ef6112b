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

from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_train.config import TrainConfig, TrainConfigError, config_from_dict

CHECKPOINT_FORMAT = 1
#: `kind` of a checkpoint written by `pretrain-flow` (fit checkpoints have no kind)
FLOW_KIND = "flow"


class CheckpointError(DenseOodError, ValueError):
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
        raise CheckpointError(f"{path}: not a readable checkpoint ({first_line(exc)})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a dense_ood_train checkpoint (format mismatch)")
    return state


def checkpoint_config(state: dict[str, Any], source: str = "checkpoint") -> TrainConfig:
    try:
        return config_from_dict(state["config"])
    except (KeyError, TrainConfigError) as exc:
        raise CheckpointError(f"{source}: its config is invalid ({exc})") from exc


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
        first = first_line(exc)
        raise CheckpointError(
            f"{path}: segmenter weights do not match its config ({first})"
        ) from exc
    extra = {k: v for k, v in state.items() if k not in ("segmenter", "config")}
    return segmenter.eval(), config, extra


def load_segmenter_weights(path: str | Path, segmenter: nn.Module) -> None:
    """Start `segmenter` from a `fit` checkpoint's segmenter (model.init_checkpoint, the
    two-stage recipe); CheckpointError when unreadable or of another architecture."""
    state = read_checkpoint(path)
    try:
        segmenter.load_state_dict(state["segmenter"])
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"model.init_checkpoint {path}: its segmenter does not fit the configured model "
            f"({first_line(exc)})"
        ) from exc


def flow_architecture_of(state: dict[str, Any]) -> dict[str, Any] | None:
    """The flow architecture a checkpoint records: pretrain-flow's, or a fit config's flow part."""
    from dense_ood_train.models import FLOW_ARCHITECTURE_KEYS

    if state.get("kind") == FLOW_KIND:
        return dict(state["architecture"])
    flow_config = (state.get("config") or {}).get("flow")
    if isinstance(flow_config, dict):
        defaults = TrainConfig().flow
        return {k: flow_config.get(k, getattr(defaults, k)) for k in FLOW_ARCHITECTURE_KEYS}
    return None


def load_pretrained_flow(path: str | Path, flow: nn.Module, architecture: dict[str, Any]) -> None:
    """Load flow weights from a pretrain-flow or fit checkpoint (or a bare state dict) into
    `flow`; CheckpointError when unreadable or when the recorded architecture differs."""
    path = Path(path)
    source = f"flow.pretrained {path}"
    if not path.is_file():
        raise CheckpointError(f"{source}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{source}: not a readable checkpoint ({first_line(exc)})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{source}: not a flow checkpoint")
    weights = state
    if "flow" in state:
        recorded = flow_architecture_of(state)
        if recorded is not None and recorded != architecture:
            differ = ", ".join(
                f"{k} {recorded.get(k)!r} (config: {architecture.get(k)!r})"
                for k in architecture
                if recorded.get(k) != architecture.get(k)
            )
            raise CheckpointError(f"{source}: another flow architecture: {differ}")
        weights = state["flow"]
        if weights is None:
            raise CheckpointError(f"{source}: the checkpoint holds no flow")
    try:
        flow.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{source}: weights do not fit the configured flow ({first_line(exc)})"
        ) from exc
