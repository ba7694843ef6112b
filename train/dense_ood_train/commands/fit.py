"""Train a segmenter jointly with a negative-synthesising flow (NFlowJS) from a YAML config.

Writes OUTPUT/last.pt (checkpoint, resumable), OUTPUT/config.yaml, OUTPUT/train.csv and
OUTPUT/val.csv (or TensorBoard files) and OUTPUT/summary.json. Multi-GPU: launch with
`torchrun --nproc_per_node=G -m dense_ood_train.cli fit ...`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_train.commands.run_folder import add_run_folder_arguments, run_folder_problem


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
    add_run_folder_arguments(parser, "last.pt")


def run(args: argparse.Namespace) -> int:
    from dense_ood_train.config import load_config
    from dense_ood_train.loop.trainer import LAST_CHECKPOINT, Trainer

    if args.max_steps is not None and args.max_steps <= 0:
        raise CommandError("--max-steps must be > 0")
    config = load_config(args.config, args.overrides)
    checkpoint = args.output / LAST_CHECKPOINT
    problem = run_folder_problem(checkpoint, args.resume, args.overwrite)
    if problem:
        raise CommandError(problem)
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
