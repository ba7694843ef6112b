"""Build a TensorRT plan of a contract-1 ONNX model for this machine's GPU.

Writes PLAN and, beside it, PLAN.json: the contract metadata and the engine key (ONNX hash,
TensorRT version, GPU name and compute capability, precision, input shapes), which the node
checks before it uses the plan. The default PLAN is where the node looks for the plan of an
ONNX `model_path` (beside it), so a build here saves the node's first-start build.

Precision: TensorRT 10 takes an FP32 ONNX with --precision fp16 (builder flag) or int8
(entropy calibration on --calibration-dir/--calibration-bag frames, the table cached in
PLAN.calib). TensorRT 11 builds only strongly typed networks: FP16 from an FP16 export
(`dense-ood-train export --fp16`), INT8 from the Q/DQ model of `dense-ood quantize`.
Not yet run on a GPU (docs/engines.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import check_output_file
from dense_ood_ros.tools.calibration_args import add_calibration_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.model.contract import PRECISIONS

    parser.add_argument("model", type=Path, help="contract-1 ONNX model")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="PLAN",
        help="plan to write (default: MODEL.<precision>.b<max-batch>.plan beside the model, "
        "where the node looks for it)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="engine precision (default: the ONNX's own: fp32, or the fp16 / int8 it carries)",
    )
    parser.add_argument(
        "--max-batch",
        type=int,
        default=1,
        metavar="N",
        help="largest batch of the optimisation profile: the number of cameras of the node",
    )
    add_calibration_arguments(parser, required=False)
    parser.add_argument(
        "--calibration-cache",
        type=Path,
        default=None,
        help="TensorRT 10 INT8 calibration table, read when present (default: PLAN.calib)",
    )
    parser.add_argument(
        "--workspace-mb",
        type=int,
        default=None,
        metavar="N",
        help="builder workspace limit in MiB (default: TensorRT's, the GPU's memory)",
    )
    parser.add_argument(
        "--timing-cache",
        type=Path,
        default=None,
        metavar="PATH",
        help="tactic timing cache, reused and updated (default: timing.cache beside PLAN)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing PLAN")


def run(args: argparse.Namespace) -> int:
    _build(args)
    return 0


def _build(args: argparse.Namespace) -> None:
    from dense_ood_ros.engine.cuda_runtime import this_machine
    from dense_ood_ros.engine.engine_key import EngineKey, cached_plan_path, timing_cache_path
    from dense_ood_ros.engine.tensorrt_build import BuildOptions, build_plan, import_tensorrt
    from dense_ood_ros.model.contract import ModelContract, precision_of, read_onnx_metadata
    from dense_ood_ros.model.plan_file import is_plan_file

    if is_plan_file(args.model):
        raise CommandError(f"{args.model} is a TensorRT plan: give the ONNX model to build from")
    if args.max_batch < 1:
        raise CommandError("--max-batch must be >= 1")
    metadata = read_onnx_metadata(args.model)
    contract = ModelContract.from_metadata(metadata, source=str(args.model))
    precision = args.precision or precision_of(metadata)
    plan = args.output or cached_plan_path(args.model, precision, args.max_batch, None)
    check_output_file(plan, args.overwrite)
    trt = import_tensorrt()  # before the calibration frames: fail fast where it is missing
    machine = this_machine(trt.__version__)
    calibration = None
    if args.calibration_dir or args.calibration_bag:
        calibration = load_from_args(args, contract.input_hw)
        print(f"calibration: {calibration.describe()}")
    options = BuildOptions(
        precision=precision,
        max_batch=args.max_batch,
        workspace_mb=args.workspace_mb,
        timing_cache=args.timing_cache or timing_cache_path(plan),
        calibration=calibration,
        calibration_cache=args.calibration_cache or plan.with_name(plan.name + ".calib"),
    )
    sidecar = build_plan(args.model, plan, options, machine)
    print(f"engine key: {EngineKey.of_plan(plan, sidecar)}")
