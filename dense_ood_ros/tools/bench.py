"""Benchmark a model: engine-only latency against the full per-frame path at a camera size.

Engine only: `engine.infer` on a frame already at the model's input size. Full path, per frame:
decode a raw sensor_msgs/Image buffer in the chosen encoding, run the pipeline (resize,
engine, resize back, threshold, colour, overlay) and build the output sensor_msgs/Image
messages (or, without sensor_msgs, the same byte conversion). The two are timed interleaved,
frame by frame and in alternating order, so load on the machine affects both alike. Prints
mean/p50/p95 per stage and the pipeline's overhead over engine-only time in percent, and the
sum of the non-engine stages as a share of engine time (steadier when the engine jitters).
With --replay BAG: the bag replay's frames/s against engine-only frames/s on the same frames.
With --against: engines side by side on the same frames (an INT8 model against its FP32
original, TensorRT against ONNX Runtime): latency, speed-up, semantic agreement, score difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.ros.topics import OUTPUT_ENCODINGS
from dense_ood_ros.tools.outputs import check_output_file

#: Stages of the full path in the order they run (pipeline stages come from its timings).
STAGES = ("decode", "preprocess", "engine", "postprocess", "color", "overlay", "messages")


class BenchError(DenseOodError, ValueError):
    """The bench cannot run as asked (arguments, an unreadable image)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.codec.image_codec import SUPPORTED_ENCODINGS
    from dense_ood_ros.engine import BACKENDS
    from dense_ood_ros.pipeline.frame_pipeline import OUTPUT_SIZES

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
        choices=SUPPORTED_ENCODINGS,
        metavar="ENCODING",
        help=f"sensor_msgs/Image encoding of the camera frames ({', '.join(SUPPORTED_ENCODINGS)})",
    )
    parser.add_argument(
        "--no-color", action="store_true", help="skip the semantic_color image and its message"
    )
    parser.add_argument(
        "--no-overlay", action="store_true", help="skip the overlay image and its message"
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
    try:
        _check_args(args)
        if args.replay:
            return _bench_replay(args)
        if args.cameras:
            return _bench_cameras(args)
        if args.against:
            return _bench_against(args)
        if args.profile_ops:
            return _bench_profile(args)
        report = benchmark(
            model=args.model,
            height=args.height,
            width=args.width,
            backend=args.backend,
            iterations=args.iterations,
            warmup=args.warmup,
            encoding=args.encoding,
            color=not args.no_color,
            overlay=not args.no_overlay,
            image=args.image,
            threshold=args.threshold,
            output_size=args.output_size,
        )
    except (DenseOodError, OSError) as exc:
        print(f"dense-ood bench: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _bench_replay(args: argparse.Namespace) -> int:
    """Replay throughput against engine-only throughput on the bags' own frames."""
    import tempfile

    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline
    from dense_ood_ros.replay.report import markdown, report_dict
    from dense_ood_ros.replay.session import ReplayOptions, ReplaySession

    pipeline = Pipeline(
        load_engine(args.model, args.backend), args.threshold, output_size=args.output_size
    )
    with tempfile.TemporaryDirectory(prefix="dense_ood_bench_") as tmp:
        options = ReplayOptions(
            bags=args.replay,
            output=Path(tmp) / "replay",
            color=not args.no_color,
            overlay=not args.no_overlay,
            samples=0,
        )
        session = ReplaySession(pipeline, options)
        session.check()
        result = session.run()
    report = report_dict(result, [str(b) for b in args.replay], "(discarded)", str(args.model))
    print(markdown(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if result.error else 0


def _bench_against(args: argparse.Namespace) -> int:
    """The reference engine and the --against ones on the same frames, timed interleaved."""
    from dataclasses import asdict

    from dense_ood_ros.engine.calibration import load_calibration_set
    from dense_ood_ros.model.bundled import sample_frames_dir
    from dense_ood_ros.model.contract import read_contract
    from dense_ood_ros.tools.engine_compare import (
        EngineSpec,
        compare_engines,
        format_comparison,
        parse_spec,
    )

    reference = EngineSpec(args.model, args.backend)
    specs = [reference] + [parse_spec(t, args.model, args.backend) for t in args.against]
    folder = args.frames_dir or sample_frames_dir()
    frames = load_calibration_set(read_contract(args.model).input_hw, directory=folder).frames
    rows = compare_engines(specs, frames, args.iterations, args.warmup, args.batch)
    print(format_comparison(rows, len(frames), args.batch))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    return 0


def _bench_profile(args: argparse.Namespace) -> int:
    """Per-operator kernel times of --model in ONNX Runtime."""
    from dataclasses import asdict

    from dense_ood_ros.model.contract import read_contract
    from dense_ood_ros.tools.op_profile import format_profile, profile_operators

    height, width = read_contract(args.model).input_hw
    frame = _load_frame(args.image, height, width) if args.image else synthetic_frame(height, width)
    rows = profile_operators(args.model, np.stack([frame] * args.batch), args.iterations)
    print(format_profile(rows, args.model))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    return 0


def _bench_cameras(args: argparse.Namespace) -> int:
    """Frames/s of several cameras through the pipeline: one batch against one by one."""
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline

    pipeline = Pipeline(
        load_engine(args.model, args.backend), args.threshold, output_size=args.output_size
    )
    color, overlay = not args.no_color, not args.no_overlay
    rows = []
    for count in args.cameras:
        frames = [synthetic_frame(args.height, args.width, seed) for seed in range(count)]
        flags = [color] * count, [overlay] * count
        batched: list[float] = []
        single: list[float] = []
        for index in range(args.warmup + args.iterations):
            timings = []
            for batch in (True, False) if index % 2 else (False, True):
                start = time.perf_counter()
                if batch:
                    pipeline.process_batch(frames, *flags)
                else:
                    for frame in frames:
                        pipeline.process(frame, color=color, overlay=overlay)
                timings.append((batch, time.perf_counter() - start))
            if index >= args.warmup:
                for batch, seconds in timings:
                    (batched if batch else single).append(seconds)
        rows.append((count, count / float(np.median(single)), count / float(np.median(batched))))
    print(f"{'cameras':>8}{'one by one fps':>16}{'batched fps':>14}{'ratio':>8}")
    for count, single_fps, batch_fps in rows:
        print(f"{count:>8}{single_fps:>16.1f}{batch_fps:>14.1f}{batch_fps / single_fps:>8.2f}")
    print(f"({args.height}x{args.width} frames, medians of {args.iterations} rounds, "
          f"outputs at the {args.output_size} size)")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = [{"cameras": c, "one_by_one_fps": s_, "batched_fps": b} for c, s_, b in rows]
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _check_args(args: argparse.Namespace) -> None:
    if args.replay or args.against or args.profile_ops:
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


def benchmark(
    model: Path,
    height: int,
    width: int,
    backend: str = "auto",
    iterations: int = 30,
    warmup: int = 3,
    encoding: str = "bgr8",
    color: bool = True,
    overlay: bool = True,
    image: Path | None = None,
    threshold: float | None = None,
    output_size: str = "camera",
) -> dict[str, Any]:
    """Time both paths; return the configuration and per-stage statistics (milliseconds)."""
    from tqdm import tqdm

    from dense_ood_ros.codec.messages import image_decoder, rgb_from_image_msg
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import FrameResult, Pipeline, resize_to

    engine = load_engine(model, backend)
    pipeline = Pipeline(engine, threshold, output_size=output_size)
    frame = _load_frame(image, height, width) if image else synthetic_frame(height, width)
    camera_msg = camera_message(frame, encoding)
    model_batch = resize_to(frame, engine.contract.input_hw)[None]
    publish, messages_kind = _message_builder()

    engine_only: list[float] = []
    stages: dict[str, list[float]] = {name: [] for name in (*STAGES, "total")}
    anomaly_fractions: list[float] = []

    def time_engine() -> float:
        start = time.perf_counter()
        engine.infer(model_batch, extra_scores=False)
        return (time.perf_counter() - start) * 1e3

    def time_pipeline() -> tuple[dict[str, float], FrameResult]:
        start = time.perf_counter()
        rgb = rgb_from_image_msg(camera_msg)  # as the node decodes (cv_bridge where present)
        decoded = time.perf_counter()
        result = pipeline.process(rgb, color=color, overlay=overlay)
        processed = time.perf_counter()
        publish(result)
        done = time.perf_counter()
        laps = {
            **result.timings_ms,
            "decode": (decoded - start) * 1e3,
            "messages": (done - processed) * 1e3,
            "total": (done - start) * 1e3,
        }
        return laps, result

    for index in tqdm(range(warmup + iterations), desc="bench", unit="frame", disable=None):
        if index % 2:  # alternate the order, so neither path always runs on a warmer machine
            laps, result = time_pipeline()
            engine_ms = time_engine()
        else:
            engine_ms = time_engine()
            laps, result = time_pipeline()
        if index < warmup:
            continue
        engine_only.append(engine_ms)
        anomaly_fractions.append(float(np.count_nonzero(result.mask)) / result.mask.size)
        for name, values in stages.items():
            values.append(laps.get(name, 0.0))

    summary = {name: _stats(values) for name, values in stages.items() if any(values)}
    engine_stats = _stats(engine_only)
    other_stages = (
        sum(summary[name]["mean"] for name in STAGES if name in summary)
        - (summary["engine"]["mean"])
    )
    return {
        "model": str(model),
        "backend": engine.backend_name,
        "providers": list(getattr(engine, "providers", [])),
        "input_hw": list(engine.contract.input_hw),
        "camera_hw": [height, width],
        "encoding": encoding,
        "frame": str(image) if image else "synthetic",
        "iterations": iterations,
        "warmup": warmup,
        "color": color,
        "overlay": overlay,
        "threshold": pipeline.threshold,
        "output_size": output_size,
        "messages": messages_kind,
        "decoder": image_decoder(),
        "stages_ms": summary,
        "engine_only_ms": engine_stats,
        "overhead_percent": {
            key: 100.0 * (summary["total"][key] - engine_stats[key]) / engine_stats[key]
            for key in ("mean", "p50")
        },
        # Less sensitive to engine jitter: the mean time of every stage but the engine.
        "non_engine_ms": other_stages,
        "non_engine_percent": 100.0 * other_stages / engine_stats["mean"],
        "anomaly_fraction": float(np.mean(anomaly_fractions)),
    }


def camera_message(rgb: np.ndarray, encoding: str) -> Any:
    """The frame as a camera driver publishes it: a sensor_msgs/Image in `encoding` (a record
    with the same fields where sensor_msgs does not import)."""
    from types import SimpleNamespace

    from dense_ood_ros.codec.image_codec import encode_raw

    data, step = encode_raw(rgb, encoding)
    fields = {
        "height": rgb.shape[0],
        "width": rgb.shape[1],
        "encoding": encoding,
        "is_bigendian": 0,
        "step": step,
        "data": data,
    }
    try:
        from sensor_msgs.msg import Image
    except ImportError:
        return SimpleNamespace(**fields)
    return Image(**fields)


def _stats(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(array.mean()),
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
    }


def synthetic_frame(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, scene-like RGB frame (random colour field enlarged), same for every run."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _load_frame(path: Path, height: int, width: int) -> np.ndarray:
    import cv2

    from dense_ood_ros.codec.image_codec import read_rgb

    rgb = read_rgb(path)
    interpolation = cv2.INTER_AREA if rgb.shape[0] >= height else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interpolation)


def _message_builder() -> tuple[Callable[[Any], None], str]:
    """What the node does with a result: build sensor_msgs/Image messages, else their bytes."""
    from dense_ood_ros.codec.messages import image_msg_from_array, pixels_as_uint8_array

    try:
        from std_msgs.msg import Header
    except ImportError:

        def convert(result: Any) -> None:
            for pixels, _encoding in _outputs(result):
                pixels_as_uint8_array(pixels)

        return convert, "byte conversion (sensor_msgs not importable)"

    header = Header(frame_id="camera")

    def build(result: Any) -> None:
        for array, encoding in _outputs(result):
            image_msg_from_array(array, encoding, header)

    return build, "sensor_msgs/Image"


def _outputs(result: Any) -> list[tuple[np.ndarray, str]]:
    """(image, encoding) of every output the node would publish for `result`."""
    images = result.output_images()
    return [
        (images[name], enc) for name, enc in OUTPUT_ENCODINGS.items() if images[name] is not None
    ]


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table."""
    camera = "x".join(str(v) for v in report["camera_hw"])
    model_hw = "x".join(str(v) for v in report["input_hw"])
    providers = ", ".join(report["providers"]) or report["backend"]
    lines = [
        f"model {report['model']} ({report['backend']}: {providers}), input {model_hw}, "
        f"threshold {report['threshold']:g}, outputs at the {report['output_size']} size",
        f"camera {camera} {report['encoding']} ({report['frame']}), "
        f"{report['iterations']} frames after {report['warmup']} warm-up, "
        f"decoded by {report['decoder']}, outputs as {report['messages']}",
        "",
        f"{'stage':<22}{'mean ms':>10}{'p50 ms':>10}{'p95 ms':>10}",
    ]

    def row(name: str, stats: dict[str, float]) -> str:
        return f"{name:<22}{stats['mean']:>10.2f}{stats['p50']:>10.2f}{stats['p95']:>10.2f}"

    stages = report["stages_ms"]
    lines += [row(f"  {name}", stages[name]) for name in STAGES if name in stages]
    lines.append(row("pipeline (full path)", stages["total"]))
    lines.append(row("engine only", report["engine_only_ms"]))
    overhead = report["overhead_percent"]
    lines += [
        "",
        f"overhead of the full path over engine only: {overhead['mean']:+.1f}% (mean), "
        f"{overhead['p50']:+.1f}% (p50)",
        f"stages other than the engine: {report['non_engine_ms']:.2f} ms = "
        f"{report['non_engine_percent']:.1f}% of engine-only time "
        f"(anomaly mask covers {100 * report['anomaly_fraction']:.0f}% of the frame)",
    ]
    return "\n".join(lines)
