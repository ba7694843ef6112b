"""Give a contract-1 ONNX model today's score head, keeping its trained network unchanged.

For models exported by an earlier dense-ood-train: with their class-first score head, the
default model's engine call was 3.0x slower on the CPU (docs/engines.md). The logits, and so
the semantic output, stay bit-identical; the scores change by float rounding only. The
metadata (contract, threshold, provenance) is carried over.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import check_output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", type=Path, help="contract-1 ONNX model exported by dense-ood-train"
    )
    parser.add_argument("--output", required=True, type=Path, help="ONNX file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def run(args: argparse.Namespace) -> int:
    from dense_ood_train.export.rehead import rehead_model

    check_output_file(args.output, args.overwrite)
    if args.output.resolve() == args.model.resolve():
        raise CommandError("--output must differ from the input model")
    path = rehead_model(args.model, args.output)
    print(f"wrote {path} (the score head of today's export, the network of {args.model})")
    return 0
