"""Pretrain a config's normalizing flow by maximum likelihood on inlier patches.

Writes OUTPUT/flow.pt (pass it to `fit` with `--set flow.pretrained=OUTPUT/flow.pt`),
OUTPUT/train.csv (training bits/dim), OUTPUT/heldout.csv (held-out bits/dim per patch size,
statistics of fresh samples, training minutes), OUTPUT/samples/step_*.png (sample grids at
temperatures 0.5, 0.7 and 1.0; step 0 is the untrained flow) and OUTPUT/summary.json.
The flow architecture (flow.levels, steps_per_level, hidden, lu, learned_prior), the patch
sizes (negatives.patch_*) and the learning rate (flow.warmup_lr) come from the config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_train.commands.run_folder import add_run_folder_arguments, run_folder_problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="YAML file (see train/configs/)")
    parser.add_argument("--output", required=True, type=Path, help="folder for flow.pt and logs")
    parser.add_argument("--steps", type=int, default=5000, help="optimisation steps in total")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="also stop after this much training time (comparing architectures per CPU-minute)",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=500,
        help="held-out bits/dim, sample grid and checkpoint every N steps",
    )
    parser.add_argument(
        "--patches-per-image",
        type=int,
        default=4,
        help="patches cut from each training crop per step (the batch size comes from the config)",
    )
    add_run_folder_arguments(parser, "flow.pt")


def run(args: argparse.Namespace) -> int:
    from dense_ood_train.config import load_config
    from dense_ood_train.loop.flow_pretrainer import FLOW_CHECKPOINT, FlowPretrainer

    for name in ("steps", "eval_every", "patches_per_image"):
        if getattr(args, name) <= 0:
            raise CommandError(f"--{name.replace('_', '-')} must be > 0")
    if args.minutes is not None and args.minutes <= 0:
        raise CommandError("--minutes must be > 0")
    config = load_config(args.config, args.overrides)
    checkpoint = args.output / FLOW_CHECKPOINT
    problem = run_folder_problem(checkpoint, args.resume, args.overwrite)
    if problem:
        raise CommandError(problem)
    if args.overwrite:
        for stale in ("train.csv", "heldout.csv"):
            (args.output / stale).unlink(missing_ok=True)
    trainer = FlowPretrainer(
        config,
        args.output,
        steps=args.steps,
        eval_every=args.eval_every,
        minutes=args.minutes,
        patches_per_image=args.patches_per_image,
        resume=args.resume,
        progress=not args.no_progress,
    )
    print(
        f"pretrain-flow: {trainer.summary()['parameters'] / 1e6:.2f}M parameters, "
        f"patch sides {trainer.sizes}, steps {trainer.step}..{args.steps} on {trainer.device}",
        flush=True,
    )
    summary = trainer.fit()
    first, last = summary["heldout_first"], summary["heldout_last"]
    print(
        f"done: step {summary['steps']}, {summary['train_minutes']:.1f} training minutes, "
        f"held-out bits/dim {first['bpd_mean']:.3f} -> {last['bpd_mean']:.3f}; "
        f"checkpoint {checkpoint}"
    )
    return 0
