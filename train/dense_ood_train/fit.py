"""Train a segmenter jointly with a negative-synthesising flow (NFlowJS) from a YAML config.

Writes OUTPUT/last.pt (checkpoint, resumable), OUTPUT/config.yaml, OUTPUT/train.csv and
OUTPUT/val.csv (or TensorBoard files) and OUTPUT/summary.json. Multi-GPU: launch with
`torchrun --nproc_per_node=G -m dense_ood_train.cli fit ...`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dense_ood_ros.errors import first_line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="YAML file (see train/configs/)")
    parser.add_argument(
        "--output", required=True, type=Path, help="run folder for checkpoints and logs"
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after this many steps in total (short runs, smoke tests)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set negatives.beta=0.3 (repeatable)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--resume", action="store_true", help="continue from OUTPUT/last.pt (its step counter)"
    )
    group.add_argument(
        "--overwrite", action="store_true", help="start afresh even if OUTPUT holds a checkpoint"
    )
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")


def _fail(message: str) -> int:
    print(f"dense-ood-train fit: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from dense_ood_train.checkpoint import CheckpointError
    from dense_ood_train.config import ConfigError, load_config
    from dense_ood_train.trainer import LAST_CHECKPOINT, Trainer

    if args.max_steps is not None and args.max_steps <= 0:
        return _fail("--max-steps must be > 0")
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as exc:
        return _fail(str(exc))
    checkpoint = args.output / LAST_CHECKPOINT
    if args.resume and not checkpoint.is_file():
        return _fail(f"--resume: {checkpoint} does not exist")
    if checkpoint.is_file() and not (args.resume or args.overwrite):
        return _fail(f"{checkpoint} exists; pass --resume to continue or --overwrite to restart")
    try:
        trainer = Trainer(
            config,
            args.output,
            resume=args.resume,
            max_steps=args.max_steps,
            progress=not args.no_progress,
        )
        if trainer.dist.is_main:
            print(trainer.describe(), flush=True)
        metrics = trainer.fit()
    except (CheckpointError, FileNotFoundError, FloatingPointError, ValueError) as exc:
        return _fail(first_line(exc))
    if trainer.dist.is_main:
        _print_summary(metrics, checkpoint, trainer.step)
    return 0


def _print_summary(metrics: dict, checkpoint: Path, step: int) -> None:
    train = metrics.get("train", {})
    val = metrics.get("val", {})
    parts = [f"step {step}"]
    if "images_per_s" in train:
        parts.append(f"{train['images_per_s']:.1f} images/s")
    if "miou" in val:
        parts.append(f"val mIoU {100 * val['miou']:.1f}")
    print(f"done: {', '.join(parts)}; checkpoint {checkpoint}")
