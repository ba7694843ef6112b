"""How a model was made: the source commit at training time and a digest of its config.

Exported models carry this as `dense_ood.training` metadata, so a model file found on a vehicle
can be traced back to the code, the recipe and the seed that produced it.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from dense_ood_train.config import TrainConfig

UNKNOWN = "unknown"


def source_commit(where: Path | None = None) -> str:
    """`git rev-parse HEAD` of the checkout holding this package, with '-dirty' when tracked
    files differ from it; 'unknown' outside a git checkout."""
    folder = where or Path(__file__).resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return UNKNOWN
        dirty = git("diff", "--quiet", "HEAD", "--").returncode != 0
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    return head.stdout.strip() + ("-dirty" if dirty else "")


def config_digest(config: TrainConfig) -> str:
    """sha256 (first 16 hex digits) of the config's canonical YAML."""
    return hashlib.sha256(config.to_yaml().encode()).hexdigest()[:16]


def training_record(config: TrainConfig, state: dict[str, Any]) -> dict[str, Any]:
    """The `dense_ood.training` metadata of a model exported from a fit checkpoint's `state`."""
    return {
        "backbone": config.model.backbone,
        "negatives_mode": config.negatives.mode,
        "seed": config.seed,
        "steps": int(state.get("step", 0)),
        "beta": config.negatives.beta,
        "flow_pretrained": Path(config.flow.pretrained).name if config.flow.pretrained else None,
        "flow_joint_gradient": config.flow.joint_gradient,
        "flow_lr": config.flow.lr,
        "config_digest": config_digest(config),
        "source_commit": state.get("source_commit", UNKNOWN),
    }
