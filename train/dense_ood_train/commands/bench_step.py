"""Benchmark the training step: seconds per step of several variants of one config, interleaved.

Each variant is the config plus its own `--variant NAME:KEY=VALUE,KEY=VALUE` overrides (for
example the negatives mode). All variants live in one process and take their steps in turn, in
alternating order, on the same kind of batches, so the machine's load falls on all alike; the
report gives the median seconds per step of each and its ratio to the first variant. Data are
generated once per variant (use a small data.num_scenes).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.errors import first_line
from dense_ood_train.commands.run_folder import add_override_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="YAML file (see train/configs/)")
    parser.add_argument(
        "--variant",
        action="append",
        required=True,
        metavar="NAME:KEY=VALUE,...",
        help="a variant and its overrides (repeatable; the first is the reference), e.g. "
        "'none:negatives.mode=none'",
    )
    add_override_argument(parser, "override for every variant (repeatable)")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per variant")


def parse_variant(text: str) -> tuple[str, list[str]]:
    """'flow:negatives.mode=flow,flow.lr=0' -> ('flow', ['negatives.mode=flow', 'flow.lr=0'])."""
    name, sep, overrides = text.partition(":")
    if not name.strip():
        raise ValueError(f"--variant {text!r} must look like NAME:KEY=VALUE,...")
    return name.strip(), [item for item in overrides.split(",") if item.strip()] if sep else []


def run(args: argparse.Namespace) -> int:
    if args.steps <= 0 or args.warmup < 0:
        raise CommandError("--steps must be > 0 and --warmup >= 0")
    try:
        times = _time_variants(args)
    except ValueError as exc:  # parse_variant's and torch's; DenseOodError and OSError: run_cli
        raise CommandError(first_line(exc)) from exc
    names = list(times)
    reference = statistics.median(times[names[0]])
    print(f"{'variant':<20}{'median s/step':>15}{'ratio':>8}")
    for name in names:
        median = statistics.median(times[name])
        print(f"{name:<20}{median:>15.4f}{median / reference:>8.2f}")
    print(f"({args.steps} interleaved steps each after {args.warmup} untimed)")
    return 0


def _time_variants(args: argparse.Namespace) -> dict[str, list[float]]:
    """Seconds of each timed step per variant, the variants' steps interleaved."""
    import tempfile

    from dense_ood_train.config import load_config
    from dense_ood_train.loop.trainer import Trainer, infinite_batches

    variants = [parse_variant(text) for text in args.variant]
    with tempfile.TemporaryDirectory(prefix="bench_step_") as tmp:
        trainers = {}
        for name, overrides in variants:
            config = load_config(args.config, [*args.overrides, *overrides])
            trainer = Trainer(config, Path(tmp) / name, progress=False)
            trainer.model.train()
            trainers[name] = (trainer, infinite_batches(trainer.train_loader, trainer.sampler))
        times: dict[str, list[float]] = {name: [] for name in trainers}
        names = list(trainers)
        for index in range(args.warmup + args.steps):
            order = names if index % 2 == 0 else names[::-1]
            for name in order:
                trainer, batches = trainers[name]
                images, labels = next(batches)
                start = time.perf_counter()
                trainer.train_step(images, labels)
                trainer.step += 1
                if index >= args.warmup:
                    times[name].append(time.perf_counter() - start)
    return times
