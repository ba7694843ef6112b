"""Evaluate a model's anomaly scores on a benchmark: AP, FPR95, AUROC, SMIYC components, mIoU.

The model runs through the vehicle's own engine and pipeline (dense_ood_ros), so what is
measured is what runs on the vehicle: a training checkpoint is first exported to a temporary
contract-1 ONNX carrying every score. Pixel metrics are exact (not binned), pooled over all
non-void pixels; component metrics (sIoU, PPV, mean F1) follow the SMIYC protocol at each
score's best-F1 threshold. Writes metrics.json, metrics.md, pr.png, roc.png and sample panels.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dense_ood_ros.model.contract import KNOWN_SCORES
from dense_ood_ros.model.plan_file import is_plan_file
from dense_ood_train.evaluation.anomaly_evaluation import (
    COMPONENT_CHOICES,
    ONNX_SUFFIX,
    EvaluationError,
    evaluate,
    write_report,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.engine import BACKENDS

    parser.add_argument(
        "--model",
        required=True,
        help="contract-1 ONNX model (not a TensorRT plan: give the ONNX it was built from) or a "
        "`dense-ood-train fit` checkpoint (exported to a temporary ONNX with every score)",
    )
    from dense_ood_train.benchmarks import BENCHMARK_NAMES

    parser.add_argument(
        "--benchmark",
        required=True,
        help=f"one of {', '.join(BENCHMARK_NAMES)} (synthroad-ood is generated and needs no "
        "--root; its options: split, num_frames, height, width, track, ...)",
    )
    parser.add_argument("--root", default=None, help="the benchmark's folder, in its layout")
    parser.add_argument(
        "--scores",
        default=None,
        help=f"comma-separated scores to compare, from {','.join(KNOWN_SCORES)}; default: every "
        "score the model carries",
    )
    parser.add_argument(
        "--output", default="evaluation", help="folder for metrics.json, metrics.md and PNGs"
    )
    parser.add_argument(
        "--max-frames", type=int, default=None, help="evaluate only the first N frames"
    )
    parser.add_argument(
        "--components",
        choices=COMPONENT_CHOICES,
        default="auto",
        help="SMIYC component metrics: auto = the benchmark's track (the SMIYC tracks; "
        "roadanomaly: the anomaly track's sizes; LostAndFound: the obstacle track's, as the "
        "SMIYC code does), or force a track's size filters, or off",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="benchmark option passed to open_benchmark (value in YAML syntax), repeatable",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="inference backend for the runtime engine",
    )
    parser.add_argument(
        "--samples", type=int, default=4, help="sample panels (image | score | GT | mask) to save"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the files of an existing --output"
    )


def run(args: argparse.Namespace) -> int:
    scores = parse_scores(args.scores)
    options = parse_options(args.option)
    if args.max_frames is not None and args.max_frames <= 0:
        raise EvaluationError("--max-frames must be a positive number")
    output = prepare_output(Path(args.output), args.overwrite)
    with tempfile.TemporaryDirectory(prefix="dense_ood_eval_") as tmp:
        model = resolve_model(Path(args.model), Path(tmp))
        report = evaluate(
            model,
            args.benchmark,
            root=args.root,
            scores=scores,
            max_frames=args.max_frames,
            components=args.components,
            backend=args.backend,
            options=options,
            samples=args.samples,
            sample_dir=output / "samples",
            spill_dir=Path(tmp),
        )
    report["model"] = str(args.model)
    table = write_report(report, output)
    print(table)
    written = sorted(p.name for p in output.iterdir())
    print(f"\nwrote {output}/: {', '.join(written)}")
    return 0


# --- arguments -------------------------------------------------------------------------------


def parse_scores(text: str | None) -> tuple[str, ...] | None:
    """'jsd,msp' -> ('jsd', 'msp'); None keeps every score of the model."""
    if text is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in KNOWN_SCORES]
    if unknown or not names:
        raise EvaluationError(
            f"--scores: unknown {unknown or 'empty list'}; choose from {', '.join(KNOWN_SCORES)}"
        )
    return names


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """['num_frames=8', 'hw=[64, 96]'] -> {'num_frames': 8, 'hw': [64, 96]}."""
    from dense_ood_train.config import TrainConfigError, parse_key_value

    options: dict[str, Any] = {}
    for item in items:
        try:
            key, value = parse_key_value(item)
        except TrainConfigError as exc:
            raise EvaluationError(f"--option {exc}") from exc
        options[key] = value
    return options


def prepare_output(output: Path, overwrite: bool) -> Path:
    """Refuse a non-empty folder unless `overwrite` (old results are replaced only on success)."""
    from dense_ood_ros.console.outputs import check_output_folder

    return check_output_folder(output, overwrite)


def resolve_model(path: Path, tmp: Path) -> Path:
    """An ONNX model as is; a checkpoint exported to `tmp` as ONNX with every score."""
    if not path.is_file():
        raise EvaluationError(f"--model {path}: no such file")
    if is_plan_file(path):
        raise EvaluationError(
            f"--model {path}: is a TensorRT plan; pass the .onnx it was built from"
        )
    if path.suffix == ONNX_SUFFIX:
        return path
    return export_checkpoint(path, tmp / f"{path.stem}{ONNX_SUFFIX}")


def export_checkpoint(checkpoint: Path, output: Path) -> Path:
    """Export a `fit` checkpoint as `dense-ood-train export --extra-scores` would (JSD main)."""
    from dense_ood_train.export.checkpoint_export import export_checkpoint as export_model
    from dense_ood_train.loop.checkpoint import CheckpointError

    try:
        return export_model(checkpoint, output, extra_scores=True)[0]
    except CheckpointError as exc:
        raise EvaluationError(str(exc)) from exc
