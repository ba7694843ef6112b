"""Benchmark a model: engine-only latency against the full per-frame path at a camera size.

Engine only: `engine.infer` on a frame already at the model's input size. Full path, per frame:
decode the camera message in the chosen encoding (a raw sensor_msgs/Image, or with --encoding
jpeg a CompressedImage, decoded at a reduced scale where outputs are at the model's size), run
the pipeline (resize, engine, resize back, threshold, anomaly obstacles unless --no-obstacles,
colour, overlay) and build the output sensor_msgs/Image messages (or, without sensor_msgs, the
same byte conversion). The two are timed
interleaved, frame by frame and in alternating order, so load on the machine affects both alike.
Prints mean/p50/p95 per stage and the pipeline's overhead over engine-only time in percent, and
the sum of the non-engine stages as a share of engine time (steadier when the engine jitters).
With --replay BAG: the bag replay's frames/s against engine-only frames/s on the same frames.
With --against: engines side by side on the same frames (an INT8 model against its FP32
original, TensorRT against ONNX Runtime): latency, speed-up, semantic agreement, score difference.
"""

# One module per mode (single, replay, against, profile, cameras); this one parses and dispatches.

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from dense_ood_ros.console.outputs import check_output_file
from dense_ood_ros.tools.bench.common import BenchError

__all__ = ["BenchError", "add_arguments", "run"]

#: Modes that time the model on its own input (no camera size needed).
_MODEL_ONLY_MODES = ("replay", "against", "profile")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.codec.image_codec import SUPPORTED_ENCODINGS
    from dense_ood_ros.engine import BACKENDS
    from dense_ood_ros.pipeline.frame_pipeline import OUTPUT_SIZES
    from dense_ood_ros.tools.bench.single import JPEG, JPEG_QUALITY

    encodings = (*SUPPORTED_ENCODINGS, JPEG)
    parser.add_argument(
        "--model", required=True, type=Path, help="contract-1 model (.onnx, or a TensorRT .plan)"
    )
    parser.add_argument("--height", type=int, help="camera frame height (pixels)")
    parser.add_argument("--width", type=int, help="camera frame width (pixels)")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="inference backend; auto takes TensorRT where it runs, else ONNX Runtime",
    )
    parser.add_argument(
        "--replay",
        nargs="+",
        type=Path,
        metavar="BAG",
        help="instead of one synthetic frame: replay these bags (as `dense-ood replay`) and "
        "compare replay frames/s with engine-only frames/s on the same frames",
    )
    parser.add_argument(
        "--against",
        nargs="+",
        metavar="ENGINE",
        help="instead: compare --model on --backend with these engines on the same frames; "
        "each is a model path (same backend), a backend name (same model) or BACKEND:PATH",
    )
    parser.add_argument(
        "--frames-dir",
        type=Path,
        default=None,
        help="pictures for --against's agreement and score figures (default: the bundled "
        "sample frames)",
    )
    parser.add_argument(
        "--batch", type=int, default=1, help="engine batch size timed by --against (cameras)"
    )
    parser.add_argument(
        "--profile-ops",
        action="store_true",
        help="instead: ONNX Runtime's per-operator profile of --model (engine only, batch "
        "--batch, --iterations runs): where the engine time goes",
    )
    parser.add_argument("--iterations", type=int, default=30, help="timed frames")
    parser.add_argument("--warmup", type=int, default=3, help="untimed frames run first")
    parser.add_argument(
        "--encoding",
        default="bgr8",
        choices=encodings,
        metavar="ENCODING",
        help="sensor_msgs/Image encoding of the camera frames "
        f"({', '.join(SUPPORTED_ENCODINGS)}), or {JPEG}: a sensor_msgs/CompressedImage JPEG "
        f"(quality {JPEG_QUALITY}, as image_transport's default)",
    )
    parser.add_argument(
        "--no-reduced-decode",
        action="store_true",
        help="decode JPEG frames at full size even when outputs are at the model size (the "
        "decode before reduced-scale decoding, for before/after measurements)",
    )
    parser.add_argument(
        "--compare-full-decode",
        action="store_true",
        help="also time the full path with the frame decoded at full size, in the same rounds: "
        "reduced-scale decoding's before and after in one run",
    )
    parser.add_argument(
        "--no-color", action="store_true", help="skip the semantic_color image and its message"
    )
    parser.add_argument(
        "--no-overlay", action="store_true", help="skip the overlay image and its message"
    )
    parser.add_argument(
        "--no-obstacles",
        action="store_true",
        help="skip the anomaly obstacles stage (the node's enable_obstacles: false), to compare "
        "the full path with and without it",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="anomaly threshold (default: the model's); it sets how much of the frame the "
        "overlay marks, which costs time",
    )
    parser.add_argument(
        "--image",
        type=Path,
        help="camera frame from this picture (resized to the camera size) instead of a "
        "synthetic one",
    )
    parser.add_argument(
        "--cameras",
        nargs="+",
        type=int,
        metavar="N",
        help="instead: frames/s of N cameras (e.g. 1 2 4) as one batched engine call against "
        "one call per camera, with the node's pipeline",
    )
    parser.add_argument(
        "--output-size",
        choices=OUTPUT_SIZES,
        default="camera",
        help="outputs at the camera's size or at the model's input size (the node's output_size)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")


def run(args: argparse.Namespace) -> int:
    """Check the arguments, then run the one mode they ask for (run_cli prints its errors)."""
    mode = _mode(args)
    _check_args(args, mode)
    module = importlib.import_module(f"dense_ood_ros.tools.bench.{mode}")
    return int(module.run(args))


def _mode(args: argparse.Namespace) -> str:
    """The module that runs: the first of --replay, --cameras, --against, --profile-ops given,
    else the single-frame engine-against-full-path bench."""
    if args.replay:
        return "replay"
    if args.cameras:
        return "cameras"
    if args.against:
        return "against"
    if args.profile_ops:
        return "profile"
    return "single"


def _check_args(args: argparse.Namespace, mode: str) -> None:
    if mode in _MODEL_ONLY_MODES:
        if args.json:
            check_output_file(args.json, args.overwrite, option="--json")
        if args.batch < 1 or args.iterations < 1 or args.warmup < 0:
            raise BenchError("--batch and --iterations must be >= 1 and --warmup >= 0")
        return
    if args.height is None or args.width is None:
        raise BenchError("--height and --width are required (or --replay BAG)")
    if args.cameras and min(args.cameras) < 1:
        raise BenchError("--cameras must be >= 1")
    if args.height <= 0 or args.width <= 0:
        raise BenchError(f"--height and --width must be positive, got {args.height}x{args.width}")
    if args.iterations < 1 or args.warmup < 0:
        raise BenchError("--iterations must be >= 1 and --warmup >= 0")
    if args.json:
        check_output_file(args.json, args.overwrite, option="--json")
