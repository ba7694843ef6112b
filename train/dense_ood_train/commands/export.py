"""Export a `fit` checkpoint's segmenter as a contract-1 ONNX model for the runtime.

The model takes uint8 RGB [N, H, W, 3] at --height x --width and outputs trainIds and the
anomaly score (inside the graph; default the method's JSD score); --extra-scores adds every
other score as a `score_<name>` output. Class names and palette are those of the training
dataset (data/class_sets.py; a folder dataset declares its own in the config).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import check_output_file
from dense_ood_ros.metrics.pixel import FPR_LEVELS
from dense_ood_ros.model.contract import KNOWN_SCORES
from dense_ood_train.export.checkpoint_export import export_checkpoint, threshold_from_report

#: The threshold of an export given neither --threshold nor --threshold-from.
DEFAULT_THRESHOLD = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by `fit` (last.pt)")
    parser.add_argument("--output", required=True, type=Path, help="ONNX file to write")
    parser.add_argument(
        "--height",
        type=int,
        default=None,
        help="input height (default: the config's validation or scene size, else its crop)",
    )
    parser.add_argument("--width", type=int, default=None, help="input width (same default)")
    parser.add_argument(
        "--score", choices=KNOWN_SCORES, default="jsd", help="anomaly score in `anomaly_score`"
    )
    parser.add_argument(
        "--extra-scores", action="store_true", help="also output every other score (score_<name>)"
    )
    parser.add_argument(
        "--fp16", action="store_true", help="FP16 network (for TensorRT); scores stay float32"
    )
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="default anomaly threshold stored in the metadata, its rule recorded as 'manual' "
        f"(default {DEFAULT_THRESHOLD}, not calibrated: prefer --threshold-from)",
    )
    threshold.add_argument(
        "--threshold-from",
        type=Path,
        default=None,
        metavar="METRICS_JSON",
        help="take the threshold from an `evaluate` report on validation data: the best-F1 "
        "threshold of --score in its metrics.json, or with --threshold-at-fpr the threshold at "
        "that inlier FPR; the rule and the report's benchmark are recorded in the metadata",
    )
    parser.add_argument(
        "--threshold-at-fpr",
        type=float,
        default=None,
        metavar="LEVEL",
        help="with --threshold-from: the smallest threshold of --score at which at most LEVEL of "
        "the report's inlier pixels score at or above it (FPR <= LEVEL), e.g. 0.05; one of the "
        f"levels in the report ({', '.join(map(str, FPR_LEVELS))})",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def run(args: argparse.Namespace) -> int:
    import math

    check_output_file(args.output, args.overwrite)
    if args.output.suffix != ".onnx":
        raise CommandError(f"--output must end in .onnx, got {args.output.name}")
    if args.threshold_at_fpr is not None and args.threshold_from is None:
        raise CommandError(
            "--threshold-at-fpr needs --threshold-from METRICS_JSON (a validation report)"
        )
    if args.threshold_from is not None:
        threshold, rule = threshold_from_report(
            args.threshold_from, args.score, args.threshold_at_fpr
        )
    elif args.threshold is not None:
        threshold, rule = args.threshold, "manual"
    else:
        threshold, rule = DEFAULT_THRESHOLD, "default, not calibrated"
    if not math.isfinite(threshold):
        raise CommandError("--threshold must be a finite number")
    path, (height, width) = export_checkpoint(
        args.checkpoint,
        args.output,
        score=args.score,
        extra_scores=args.extra_scores,
        threshold=threshold,
        threshold_rule=rule,
        height=args.height,
        width=args.width,
        fp16=args.fp16,
    )
    size_mb = path.stat().st_size / 1e6
    print(
        f"wrote {path} ({size_mb:.1f} MB, input {height}x{width}, score {args.score}, "
        f"threshold {threshold:.6g}: {rule})"
    )
    return 0
