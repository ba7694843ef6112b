"""Quantize a contract-1 model to INT8 (Q/DQ) with ONNX Runtime's static quantization.

The activation ranges are calibrated on camera frames decoded and resized exactly as the node
does. The dense convolutions are quantized (per channel, 7-bit weights); the score head, the
depthwise convolutions and the first convolution stay in float (docs/engines.md says
why and what it costs). The output keeps the contract, uint8 image in and the same outputs, so
the node, `bench` and `replay` take it like any model; its metadata adds dense_ood.precision
= int8. The same file is TensorRT 11's INT8 input (`dense-ood build-engine --precision int8`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import check_output_file
from dense_ood_ros.tools.calibration_args import add_calibration_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.engine.quantize import (
        CALIBRATION_METHODS,
        DEFAULT_FLOAT,
        DEFAULT_PERCENTILE,
        FLOAT_CHOICES,
    )

    parser.add_argument("model", type=Path, help="contract-1 FP32 model (.onnx)")
    parser.add_argument("--output", required=True, type=Path, help="INT8 model to write (.onnx)")
    add_calibration_arguments(parser, required=True)
    parser.add_argument(
        "--method",
        choices=CALIBRATION_METHODS,
        default="percentile",
        help="how activation ranges are taken from the calibration frames",
    )
    parser.add_argument(
        "--percentile",
        type=float,
        default=DEFAULT_PERCENTILE,
        help="the percentile of --method percentile",
    )
    parser.add_argument(
        "--keep-float",
        nargs="*",
        choices=FLOAT_CHOICES,
        default=list(DEFAULT_FLOAT),
        metavar="KIND",
        help=f"convolutions left in float, any of {', '.join(FLOAT_CHOICES)}; the option "
        "with no KIND quantizes every convolution. The score head always stays float",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def run(args: argparse.Namespace) -> int:
    report = _quantize(args)
    print(f"wrote {report.output} in {report.seconds:.1f} s: {len(report.quantized)} convolutions "
          "in INT8; kept in float:")  # fmt: skip
    for reason, names in report.kept_float.items():
        print(f"  {len(names)} {reason}")
    print("  the score head (softmax, scores, argmax) and every non-convolution operator")
    return 0


def _quantize(args: argparse.Namespace):
    from tqdm import tqdm

    from dense_ood_ros.engine.quantize import quantize_int8
    from dense_ood_ros.model.contract import read_contract

    check_output_file(args.output, args.overwrite)
    if args.output.suffix != ".onnx":
        raise CommandError(f"--output must end in .onnx, got {args.output.name}")
    if args.output.resolve() == args.model.resolve():
        raise CommandError("--output must differ from the model")
    contract = read_contract(args.model)
    calibration = load_from_args(args, contract.input_hw)
    print(f"calibrating on {calibration.describe()}")

    def progress(batches, total):
        return tqdm(batches, total=total, desc="calibrate", unit="frame", disable=None)

    return quantize_int8(
        args.model,
        args.output,
        calibration,
        args.method,
        args.percentile,
        progress,
        tuple(args.keep_float),
    )
