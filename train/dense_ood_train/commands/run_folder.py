"""Command-line options of the commands that train into a run folder (fit, pretrain-flow).

Both take `--set` overrides, `--resume` or `--overwrite`, and `--no-progress`, and both refuse
to start over a folder that already holds their checkpoint unless told which of the two to do.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_override_argument(
    parser: argparse.ArgumentParser,
    help_text: str = "override a config value, e.g. --set negatives.beta=0.3 (repeatable)",
) -> None:
    """--set KEY=VALUE (repeatable), collected in `args.overrides`."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def add_run_folder_arguments(parser: argparse.ArgumentParser, checkpoint: str) -> None:
    """--set, --resume / --overwrite (for OUTPUT/`checkpoint`) and --no-progress."""
    add_override_argument(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--resume", action="store_true", help=f"continue from OUTPUT/{checkpoint} (its step)"
    )
    group.add_argument(
        "--overwrite", action="store_true", help=f"start afresh even if OUTPUT holds {checkpoint}"
    )
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")


def run_folder_problem(checkpoint: Path, resume: bool, overwrite: bool) -> str | None:
    """Why training into `checkpoint`'s folder must not start, or None when it may."""
    if resume and not checkpoint.is_file():
        return f"--resume: {checkpoint} does not exist"
    if checkpoint.is_file() and not (resume or overwrite):
        return f"{checkpoint} exists; pass --resume to continue or --overwrite to restart"
    return None
