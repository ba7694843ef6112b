"""Run a training study: pretrain its flows, fit every config x seed, evaluate, tabulate.

The study file (see train/studies/ and dense_ood_train.study.plan) names configs and seeds on
top of one base config, with one step budget for every fit. Each stage runs as its own
`dense-ood-train` process (pretrain-flow, fit, evaluate on every split) with its log in
OUTPUT/logs/. A finished stage leaves a marker with its settings, so running the same command
again resumes a half-finished study: finished stages are skipped, an interrupted fit or
pretraining continues from its checkpoint. OUTPUT/table.md (per-seed values, mean and spread
per config and score, verdicts), table.csv, results.json and pr_<split>.png are rewritten
after every run and at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_train.study.plan import StudyError, load_study
from dense_ood_train.study.runner import StudyRunner


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="study YAML (see train/studies/)")
    parser.add_argument("--output", required=True, type=Path, help="study folder")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="stages run at once (on a 2-core CPU, 2 jobs of 1 thread beat 1 job of 2)",
    )
    parser.add_argument(
        "--threads-per-job",
        type=int,
        default=None,
        help="torch CPU threads of each stage (default: CPU cores / jobs)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CONFIG",
        help="run only these configs (repeatable); the table still covers all finished runs",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="redo stages whose settings changed since they ran (otherwise that is an error)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print every stage and its state, run nothing"
    )
    parser.add_argument(
        "--table-only", action="store_true", help="rebuild the table from finished runs only"
    )


def run(args: argparse.Namespace) -> int:
    from dense_ood_train.study.table import write_study_report

    if args.jobs <= 0 or (args.threads_per_job is not None and args.threads_per_job <= 0):
        raise CommandError("--jobs and --threads-per-job must be > 0")
    study = load_study(args.study)
    unknown = [name for name in args.only if name not in study.configs]
    if unknown:
        raise StudyError(f"--only: {unknown[0]!r} is not a config of the study")
    threads = args.threads_per_job or max(1, (os.cpu_count() or 1) // args.jobs)
    runner = StudyRunner(study, args.output, args.jobs, threads)
    if args.dry_run:
        _print_plan(runner, args.only)
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        runner.run(args.only, args.overwrite, lambda: write_study_report(study, args.output))
    table = write_study_report(study, args.output)
    print(table)
    print(f"\nwrote {args.output}/table.md, table.csv, results.json and pr_*.png")
    if runner.failed:
        for stage, log in runner.failed:
            print(f"failed: {stage.name} (see {log})", file=sys.stderr)
        return 1
    return 0


def _print_plan(runner: StudyRunner, only: list[str]) -> None:
    flows, runs = runner.stages(only)
    for top in flows + runs:
        for stage in runner.chain(top):
            print(f"{stage.state():8s} {stage.name}: dense-ood-train {' '.join(stage.settings)}")
