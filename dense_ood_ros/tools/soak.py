"""Soak the node: N frames from each of two cameras over real DDS; its RSS and latency over time.

Starts the node (a subprocess, ONNX Runtime, `qos: reliable`) in a private ROS domain on
localhost, node and cameras with the shipped large-frames Fast DDS profile, and publishes each
camera's next frame once every output of its last frame came back (closed loop: nothing is
dropped, so every frame is one latency sample). The node's resident memory is read from /proc
once a second. Writes samples.csv, latency.csv, summary.json and soak.png to --output, and says
whether memory stayed flat: the median RSS of the last 10 % of the run against that of the
first 10 % after --warmup. A benchmark command, not a test.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.metrics.latency import summarize as summarize_latency

DEFAULT_MODEL = "synthroad_nflowjs.onnx"  # the small bundled model: 128x256, fast on a CPU
DEFAULT_DOMAIN_ID = 230  # outside the ranges the tests (1..220) and bench-transport use


class SoakError(DenseOodError, RuntimeError):
    """The node did not start, died, or stopped answering."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.model.bundled import bundled_model

    parser.add_argument(
        "--model",
        type=Path,
        default=bundled_model(DEFAULT_MODEL),
        help=f"model (.onnx; default: the bundled {DEFAULT_MODEL})",
    )
    parser.add_argument("--frames", type=int, default=10_000, help="frames per camera")
    parser.add_argument("--cameras", type=int, default=2, help="camera topics")
    parser.add_argument("--height", type=int, default=None, help="frame height (model's)")
    parser.add_argument("--width", type=int, default=None, help="frame width (model's)")
    parser.add_argument(
        "--warmup", type=float, default=0.1, help="share of the run left out of the RSS check"
    )
    parser.add_argument(
        "--max-growth-mib", type=float, default=10.0,
        help="RSS growth (last 10 %% vs first 10 %% after warm-up) still called flat",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait per frame")
    parser.add_argument("--domain-id", type=int, default=DEFAULT_DOMAIN_ID, help="ROS domain")
    parser.add_argument("--output", type=Path, default=Path("soak_out"), help="output folder")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the results already in --output"
    )
    parser.add_argument(
        "--no-profile", action="store_true",
        help="without config/fastdds_large_frames.xml (2 x 5 outputs overflow Fast DDS's "
        "default 512 KiB shared-memory segment, and reliable resends then wait 3 s)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.frames < 10 or args.cameras < 1 or not 0 <= args.warmup < 0.8:
        raise CommandError("need --frames >= 10, --cameras >= 1, 0 <= --warmup < 0.8")
    from dense_ood_ros.console.outputs import check_output_folder

    check_output_folder(args.output, args.overwrite)
    result = soak(args)
    summary = write_outputs(args, result)
    rss = summary["rss_mib"]
    latency = summary["latency_ms"]
    print(
        f"{summary['frames_completed']} of {summary['frames_asked']} frames x {args.cameras} "
        f"cameras in {summary['seconds']:.0f} s ({summary['frames_per_s']:.1f} frames/s); "
        f"RSS {rss['start']:.1f} -> {rss['end']:.1f} MiB after warm-up "
        f"({rss['growth']:+.1f} MiB, max {rss['max']:.1f}): "
        f"{'flat' if summary['memory_flat'] else 'GROWING'}; latency p50 {latency['p50']:.1f} "
        f"p95 {latency['p95']:.1f} max {latency['max']:.1f} ms; "
        f"{args.output}/"
    )
    return 0 if summary["memory_flat"] and not summary["timeouts"] else 1


@dataclass
class SoakResult:
    """What one run measured; times in seconds since the first frame."""

    frames_asked: int
    rss: list[tuple[float, int, int]] = field(default_factory=list)  # (t, frames done, bytes)
    latency: list[tuple[int, int, float, float]] = field(default_factory=list)  # frame, cam, t, s
    timeouts: int = 0
    seconds: float = 0.0
    stopped_early: str = ""


def soak(args: argparse.Namespace) -> SoakResult:
    """Start the node, run the closed loop, stop the node."""
    from dense_ood_ros.model.contract import ModelContract, read_onnx_metadata
    from dense_ood_ros.tools.node_process import environ, large_frames_profile_env, start_node

    model = args.model.resolve()
    contract = ModelContract.from_metadata(read_onnx_metadata(model), source=str(model))
    height = args.height or contract.input_hw[0]
    width = args.width or contract.input_hw[1]
    cameras = [f"/soak/cam{i}/image_raw" for i in range(args.cameras)]
    params = {"model_path": str(model), "backend": "onnxruntime", "image_topics": cameras,
              "qos": "reliable"}  # fmt: skip
    args.output.mkdir(parents=True, exist_ok=True)
    profile = {} if args.no_profile else large_frames_profile_env()
    with tempfile.TemporaryDirectory(prefix="dense_ood_soak_") as tmp:
        node = start_node(params, Path(tmp), domain_id=args.domain_id, env=profile,
                          log_path=args.output / "node.log")  # fmt: skip
        try:
            with environ({**profile, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}):
                return _camera_side(args, node, cameras, (height, width))
        finally:
            node.stop()


def _camera_side(
    args: argparse.Namespace, node: Any, cameras: list[str], hw: tuple[int, int]
) -> SoakResult:
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from dense_ood_ros.codec.messages import image_msg_from_array
    from dense_ood_ros.tools.ros_client import RosClient

    client = RosClient(args.domain_id, "dense_ood_soak")
    reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    publishers = [client.publisher(Image, topic, reliable) for topic in cameras]
    arrived: dict[tuple[int, int], int] = {}  # (camera, frame) -> outputs received

    def on_output(camera: int, name: str, msg: Any) -> None:
        key = (camera, msg.header.stamp.sec)
        arrived[key] = arrived.get(key, 0) + 1

    deep = QoSProfile(depth=10, reliability=reliable.reliability)
    outputs = [
        client.subscribe_outputs(topic, deep, functools.partial(on_output, index))
        for index, topic in enumerate(cameras)
    ]
    wanted = len(outputs[0])
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (*hw, 3), dtype=np.uint8) for _ in range(8)]
    msgs = [image_msg_from_array(f, "rgb8") for f in frames]
    result = SoakResult(frames_asked=args.frames)
    try:
        topics = [topic for o in outputs for topic in o.values()]
        client.spin_until(lambda: client.matched(publishers, topics) or node.exited(), 120)
        if not client.matched(publishers, topics):
            raise SoakError(f"the node did not come up: {node.last_line()}")
        start = time.monotonic()
        next_sample = start
        for frame in range(1, args.frames + 1):
            sent = {}
            for camera, publisher in enumerate(publishers):
                msg = msgs[(frame + camera) % len(msgs)]
                msg.header.stamp.sec = frame
                msg.header.frame_id = f"cam{camera}"
                sent[camera] = time.monotonic()
                publisher.publish(msg)
            give_up = time.monotonic() + args.timeout
            pending = set(sent)
            while pending and time.monotonic() < give_up:
                client.executor.spin_once(timeout_sec=0.01)
                for camera in list(pending):
                    if arrived.get((camera, frame), 0) >= wanted:
                        now = time.monotonic()
                        result.latency.append((frame, camera, now - start, now - sent[camera]))
                        pending.discard(camera)
                        del arrived[(camera, frame)]
            result.timeouts += len(pending)
            now = time.monotonic()
            if now >= next_sample or frame == args.frames:
                result.rss.append((now - start, frame, node.rss_bytes()))
                next_sample = now + 1.0
            if node.exited():
                result.stopped_early = f"the node exited: {node.last_line()}"
                break
            if pending and result.timeouts > 20:
                result.stopped_early = f"no answer for {result.timeouts} frames"
                break
            if frame % 500 == 0:
                recent = [s for f, _, _, s in result.latency[-1000:]]
                print(
                    f"frame {frame}/{args.frames}: {now - start:.0f} s, RSS "
                    f"{result.rss[-1][2] / 2**20:.1f} MiB, latency p50 "
                    f"{np.median(recent) * 1000:.1f} ms, timeouts {result.timeouts}",
                    flush=True,
                )
            arrived = {k: v for k, v in arrived.items() if k[1] > frame - 5}  # late stragglers
        result.seconds = time.monotonic() - start
    finally:
        client.close()
    return result


def summarize(result: SoakResult, warmup: float, max_growth_mib: float) -> dict[str, Any]:
    """RSS at the start and end of the measured part, its growth, and latency percentiles."""
    done = max((f for _, f, _ in result.rss), default=0)
    measured = [(f, b / 2**20) for _, f, b in result.rss if f > warmup * done]
    if len(measured) < 2:
        raise SoakError("too few RSS samples after warm-up; run more frames")
    tenth = max(1, len(measured) // 10)
    start = float(np.median([m for _, m in measured[:tenth]]))
    end = float(np.median([m for _, m in measured[-tenth:]]))
    slope = float(np.polyfit([f for f, _ in measured], [m for _, m in measured], 1)[0])
    return {
        "frames_asked": result.frames_asked,
        "frames_completed": done,
        "timeouts": result.timeouts,
        "stopped_early": result.stopped_early,
        "seconds": result.seconds,
        "frames_per_s": done / result.seconds if result.seconds else 0.0,
        "warmup_frames": int(warmup * done),
        "rss_mib": {
            "start": start,
            "end": end,
            "growth": end - start,
            "slope_per_1000_frames": slope * 1000,
            "max": max(m for _, m in measured),
            "first_sample": result.rss[0][2] / 2**20,
        },
        "memory_flat": end - start <= max_growth_mib,
        "max_growth_mib": max_growth_mib,
        "latency_ms": summarize_latency(s * 1000 for *_, s in result.latency),
    }


def write_outputs(args: argparse.Namespace, result: SoakResult) -> dict[str, Any]:
    """samples.csv, latency.csv, summary.json and soak.png in args.output; the summary."""
    out: Path = args.output
    with (out / "samples.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds", "frames", "rss_mib"])
        writer.writerows((f"{t:.2f}", f, f"{b / 2**20:.2f}") for t, f, b in result.rss)
    with (out / "latency.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "camera", "seconds", "latency_ms"])
        writer.writerows((f, c, f"{t:.3f}", f"{s * 1000:.2f}") for f, c, t, s in result.latency)
    summary = summarize(result, args.warmup, args.max_growth_mib)
    summary.update(
        model=str(args.model), cameras=args.cameras, command="dense-ood " + " ".join(sys.argv[1:])
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(result, summary, out / "soak.png")
    return summary


def plot(result: SoakResult, summary: dict[str, Any], path: Path) -> None:
    """RSS (top) and latency with its running p50/p95 (bottom) against frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot([f for _, f, _ in result.rss], [b / 2**20 for *_, b in result.rss], color="C0")
    top.axvspan(0, summary["warmup_frames"], color="0.9", label="warm-up")
    top.set_ylabel("node RSS (MiB)")
    top.set_title(
        f"{summary['frames_completed']} frames x {len(set(c for _, c, _, _ in result.latency))} "
        f"cameras: RSS {summary['rss_mib']['growth']:+.1f} MiB after warm-up"
    )
    top.legend(loc="lower right")
    frames = np.array([f for f, *_ in result.latency])
    latency = np.array([s for *_, s in result.latency]) * 1000
    bottom.plot(frames, latency, ",", color="0.6", label="each frame")
    if frames.size:
        edges = np.linspace(frames.min(), frames.max() + 1, 51)
        bins = np.digitize(frames, edges)
        centres, p50, p95 = [], [], []
        for b in np.unique(bins):
            part = latency[bins == b]
            centres.append(float(frames[bins == b].mean()))
            p50.append(float(np.percentile(part, 50)))
            p95.append(float(np.percentile(part, 95)))
        bottom.plot(centres, p50, color="C1", label="p50")
        bottom.plot(centres, p95, color="C3", label="p95")
        bottom.set_ylim(0, float(np.percentile(latency, 99.5)) * 1.2)
    bottom.set_xlabel("frame (per camera)")
    bottom.set_ylabel("end-to-end latency (ms)")
    bottom.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
