"""`dense-ood bench` on one camera frame: engine-only latency against the node's full path.

Engine only: `engine.infer` on the frame already at the model's input size. Full path: decode
the camera message as the node does (a raw sensor_msgs/Image, or a JPEG CompressedImage decoded
at a reduced scale where the outputs are at the model's size), run the pipeline and build the
output messages. The two are timed interleaved, in alternating order.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.console.json_output import write_json
from dense_ood_ros.metrics.latency import summarize
from dense_ood_ros.tools.bench.common import camera_frame

#: Stages of the full path in the order they run (pipeline stages come from its timings).
STAGES = (
    "decode", "preprocess", "engine", "postprocess", "obstacles", "color", "overlay", "messages"
)  # fmt: skip
#: --encoding for a camera publishing sensor_msgs/CompressedImage JPEGs (image_transport's).
JPEG = "jpeg"
#: image_transport's default JPEG quality.
JPEG_QUALITY = 95
#: The statistics the table and the JSON give per stage.
KEYS = ("mean", "p50", "p95")


def run(args: argparse.Namespace) -> int:
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
        reduced_decode=not args.no_reduced_decode,
        compare_full_decode=args.compare_full_decode,
        obstacles=not args.no_obstacles,
    )
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
    return 0


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
    reduced_decode: bool = True,
    compare_full_decode: bool = False,
    obstacles: bool = True,
) -> dict[str, Any]:
    """Time both paths; return the configuration and per-stage statistics (milliseconds).
    `obstacles`: the pipeline cuts anomaly obstacles out of each mask (its "obstacles" stage).

    `compare_full_decode`: also time the full path with the frame decoded at full size, in the
    same rounds (the before of reduced-scale decoding), reported under "full_decode".
    """
    from tqdm import tqdm

    from dense_ood_ros.codec.messages import image_decoder
    from dense_ood_ros.codec.resize import resize_to
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline
    from dense_ood_ros.pipeline.obstacles import ObstacleSettings

    engine = load_engine(model, backend)
    settings = ObstacleSettings() if obstacles else None
    pipeline = Pipeline(engine, threshold, output_size=output_size, obstacles=settings)
    frame = camera_frame(image, height, width)
    camera_msg = camera_message(frame, encoding)
    decoders = {
        "main": frame_decoder(camera_msg, pipeline.min_decode_hw if reduced_decode else None)
    }
    if compare_full_decode:
        decoders["full_decode"] = frame_decoder(camera_msg, None)
    model_batch = resize_to(frame, engine.contract.input_hw)[None]
    publish, messages_kind = _message_builder()

    engine_only: list[float] = []
    stages: dict[str, dict[str, list[float]]] = {
        path: {name: [] for name in (*STAGES, "total")} for path in decoders
    }
    anomaly_fractions: list[float] = []
    obstacle_counts: list[int] = []
    decoded_hw: dict[str, list[int]] = {}

    def time_engine() -> None:
        start = time.perf_counter()
        engine.infer(model_batch, extra_scores=False)
        engine_only.append((time.perf_counter() - start) * 1e3)

    def time_pipeline(path: str) -> None:
        start = time.perf_counter()
        rgb = decoders[path]()
        decoded = time.perf_counter()
        result = pipeline.process(rgb, color=color, overlay=overlay)
        processed = time.perf_counter()
        publish(result)
        done = time.perf_counter()
        decoded_hw[path] = list(rgb.shape[:2])
        laps = {
            **result.timings_ms,
            "decode": (decoded - start) * 1e3,
            "messages": (done - processed) * 1e3,
            "total": (done - start) * 1e3,
        }
        for name, values in stages[path].items():
            values.append(laps.get(name, 0.0))
        if path == "main":
            anomaly_fractions.append(float(np.count_nonzero(result.mask)) / result.mask.size)
            obstacle_counts.append(len(result.obstacles or ()))

    tasks: list[Callable[[], None]] = [time_engine]
    tasks += [functools.partial(time_pipeline, path) for path in decoders]
    for index in tqdm(range(warmup + iterations), desc="bench", unit="frame", disable=None):
        if index == warmup:  # the warm-up rounds are not kept
            engine_only.clear()
            anomaly_fractions.clear()
            obstacle_counts.clear()
            for path_stages in stages.values():
                for values in path_stages.values():
                    values.clear()
        # rotate the order, so no path always runs on a warmer machine
        shift = index % len(tasks)
        for task in tasks[shift:] + tasks[:shift]:
            task()

    engine_stats = summarize(engine_only, KEYS)
    report = {
        "model": str(model),
        "backend": engine.backend_name,
        "providers": list(getattr(engine, "providers", [])),
        "input_hw": list(engine.contract.input_hw),
        "camera_hw": [height, width],
        "encoding": encoding,
        "decoded_hw": decoded_hw["main"],
        "frame": str(image) if image else "synthetic",
        "iterations": iterations,
        "warmup": warmup,
        "color": color,
        "overlay": overlay,
        "obstacles": asdict(settings) if settings is not None else None,
        "threshold": pipeline.threshold,
        "output_size": output_size,
        "messages": messages_kind,
        "decoder": image_decoder() if encoding != JPEG else "cv2.imdecode",
        **_path_report(stages["main"], engine_stats),
        "engine_only_ms": engine_stats,
        "anomaly_fraction": float(np.mean(anomaly_fractions)),
        "obstacles_per_frame": float(np.mean(obstacle_counts)) if settings is not None else None,
    }
    if compare_full_decode:
        report["full_decode"] = {
            "decoded_hw": decoded_hw["full_decode"],
            **_path_report(stages["full_decode"], engine_stats),
        }
    return report


def _path_report(stages: dict[str, list[float]], engine_stats: dict[str, float]) -> dict[str, Any]:
    """Per-stage statistics of one full path and its overhead over engine-only time."""
    summary = {name: summarize(values, KEYS) for name, values in stages.items() if any(values)}
    other_stages = (
        sum(summary[name]["mean"] for name in STAGES if name in summary)
        - (summary["engine"]["mean"])
    )
    return {
        "stages_ms": summary,
        "overhead_percent": {
            key: 100.0 * (summary["total"][key] - engine_stats[key]) / engine_stats[key]
            for key in ("mean", "p50")
        },
        # the full path's time as a multiple of engine-only time (1 + overhead / 100)
        "full_over_engine": {
            key: summary["total"][key] / engine_stats[key] for key in ("mean", "p50")
        },
        # Less sensitive to engine jitter: the mean time of every stage but the engine.
        "non_engine_ms": other_stages,
        "non_engine_percent": 100.0 * other_stages / engine_stats["mean"],
    }


def camera_message(rgb: np.ndarray, encoding: str) -> Any:
    """The frame as a camera driver publishes it: a sensor_msgs/Image in `encoding`, or for
    "jpeg" a CompressedImage as image_transport writes it (a record with the same fields where
    sensor_msgs does not import)."""
    from types import SimpleNamespace

    import cv2

    from dense_ood_ros.codec.image_codec import encode_raw

    if encoding == JPEG:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        fields: dict[str, Any] = {
            "format": "rgb8; jpeg compressed bgr8",
            "data": jpeg.tobytes(),
        }
        try:
            from sensor_msgs.msg import CompressedImage
        except ImportError:
            return SimpleNamespace(**fields)
        return CompressedImage(**fields)
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


def frame_decoder(msg: Any, min_hw: tuple[int, int] | None) -> Callable[[], np.ndarray]:
    """What the node does with the camera message: RGB uint8, a JPEG decoded at a reduced
    scale no smaller than `min_hw` where given."""
    from dense_ood_ros.codec.messages import COMPRESSED, IMAGE, decode_frame

    msgtype = COMPRESSED if hasattr(msg, "format") else IMAGE
    return lambda: decode_frame(msg, msgtype, min_hw=min_hw)


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
    from dense_ood_ros.topics import ENCODING_OF_OUTPUT

    images = result.output_images()
    return [
        (images[name], enc) for name, enc in ENCODING_OF_OUTPUT.items() if images[name] is not None
    ]


def _obstacle_line(report: dict[str, Any]) -> str:
    """What the obstacles stage did, or that it was off."""
    settings = report.get("obstacles")
    if settings is None:
        return "obstacles: off (--no-obstacles)"
    stage = report["stages_ms"].get("obstacles", {}).get("mean", 0.0)
    return (
        f"obstacles: {report['obstacles_per_frame']:.1f} per frame, {stage:.2f} ms mean "
        f"(min_pixels {settings['min_pixels']}, max_count {settings['max_count']}, "
        f"opening_px {settings['opening_px']})"
    )


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table."""
    camera = "x".join(str(v) for v in report["camera_hw"])
    model_hw = "x".join(str(v) for v in report["input_hw"])
    providers = ", ".join(report["providers"]) or report["backend"]
    decoded = report.get("decoded_hw") or report["camera_hw"]
    scaled = f" at {decoded[0]}x{decoded[1]}" if list(decoded) != list(report["camera_hw"]) else ""
    lines = [
        f"model {report['model']} ({report['backend']}: {providers}), input {model_hw}, "
        f"threshold {report['threshold']:g}, outputs at the {report['output_size']} size",
        f"camera {camera} {report['encoding']} ({report['frame']}), "
        f"{report['iterations']} frames after {report['warmup']} warm-up, "
        f"decoded by {report['decoder']}{scaled}, outputs as {report['messages']}",
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
        f"{overhead['p50']:+.1f}% (p50); full path / engine only: "
        f"{report['full_over_engine']['mean']:.3f} (mean), "
        f"{report['full_over_engine']['p50']:.3f} (p50)",
        _obstacle_line(report),
        f"stages other than the engine: {report['non_engine_ms']:.2f} ms = "
        f"{report['non_engine_percent']:.1f}% of engine-only time "
        f"(anomaly mask covers {100 * report['anomaly_fraction']:.0f}% of the frame)",
    ]
    if "full_decode" in report:
        before = report["full_decode"]
        decoded = "x".join(str(v) for v in before["decoded_hw"])
        lines += [
            "",
            f"same rounds, frame decoded at full size ({decoded}), as before reduced decoding:",
            row("  decode", before["stages_ms"]["decode"]),
            row("  preprocess", before["stages_ms"]["preprocess"]),
            row("pipeline (full path)", before["stages_ms"]["total"]),
            f"overhead over engine only: {before['overhead_percent']['mean']:+.1f}% (mean), "
            f"{before['overhead_percent']['p50']:+.1f}% (p50); stages other than the engine: "
            f"{before['non_engine_ms']:.2f} ms = {before['non_engine_percent']:.1f}%",
        ]
    return "\n".join(lines)
