"""Run the live node on a folder of images and save what it publishes.

Starts the real node (`python -m dense_ood_ros.node`) in its own ROS domain on localhost,
publishes each image on /camera/image_raw, waits for the node's five outputs, writes per frame
the overlay, the semantic colours, an anomaly heat map and the anomaly mask as PNGs into
--output, and prints a table (size, latency from publish to the last output, anomalous pixel
share) and what the model says about itself (classes, score, threshold).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dense_ood_ros.codec.image_codec import IMAGE_FILE_SUFFIXES, image_files, read_rgb
from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import check_output_folder
from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_ros.model.bundled import default_demo_model, sample_frames_dir
from dense_ood_ros.tools.node_process import NodeProcess, start_node
from dense_ood_ros.tools.ros_client import RosClient, stamp_key

DEFAULT_MODEL = default_demo_model()
DEFAULT_IMAGES = sample_frames_dir()
CAMERA_TOPIC = "/camera/image_raw"
FRAME_ID = "camera"


class DemoError(DenseOodError, RuntimeError):
    """A user-facing, one-line reason the demo cannot run."""


@dataclass
class FrameReport:
    name: str
    height: int
    width: int
    latency_ms: float
    anomalous_pct: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.engine import BACKENDS

    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="contract-1 model (.onnx) to serve"
    )
    parser.add_argument(
        "--images",
        type=Path,
        default=DEFAULT_IMAGES,
        help=f"folder of camera frames ({', '.join(IMAGE_FILE_SUFFIXES)}), published in name order",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("demo_out"), help="folder for the PNGs per frame"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="write into --output even if it is not empty"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="the node's inference backend",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="anomaly threshold for the mask (default: the model's own)",
    )
    parser.add_argument(
        "--encoding",
        choices=("rgb8", "bgr8"),
        default="rgb8",
        help="encoding of the published sensor_msgs/Image frames",
    )
    parser.add_argument(
        "--domain-id",
        type=int,
        default=None,
        help="ROS_DOMAIN_ID for the node and the demo (default: one picked from the process id)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the node to start, and for each frame's outputs",
    )


def run(args: argparse.Namespace) -> int:
    try:
        frames = _check_inputs(args)
        contract = _read_contract(args.model)
        reports, threshold = _serve(args, frames, contract)
    except (DenseOodError, OSError) as exc:  # the demo's failures exit 1, run_cli prints them
        raise CommandError(first_line(exc), exit_code=1) from exc
    except KeyboardInterrupt:
        print("dense-ood demo: interrupted", file=sys.stderr)
        return 130
    _print_summary(reports, contract, threshold, args)
    return 0


# --- inputs -----------------------------------------------------------------------------------


def _check_inputs(args: argparse.Namespace) -> list[Path]:
    """The image files to publish; DemoError for a missing model/folder or a full --output."""
    if not args.model.is_file():
        raise DemoError(f"no model at {args.model}; pass --model PATH (a contract-1 .onnx file)")
    if not args.images.is_dir():
        raise DemoError(
            f"no image folder at {args.images}; pass --images DIR (a folder of .png/.jpg frames)"
        )
    frames = image_files(args.images)
    if not frames:
        raise DemoError(f"{args.images} holds no {'/'.join(IMAGE_FILE_SUFFIXES)} images")
    check_output_folder(args.output, args.overwrite)
    if args.domain_id is not None and not 0 <= args.domain_id <= 232:
        raise DemoError(f"--domain-id must be in 0..232, got {args.domain_id}")
    return frames


def _read_contract(model: Path) -> Any:
    from dense_ood_ros.model.contract import ContractError, read_contract

    try:
        return read_contract(model)
    except ContractError as exc:
        raise DemoError(str(exc)) from exc


# --- the node and the ROS side ----------------------------------------------------------------


def _serve(
    args: argparse.Namespace, frames: list[Path], contract: Any
) -> tuple[list[FrameReport], float]:
    """Start the node, publish every frame, save its outputs; (per-frame reports, threshold)."""
    domain_id = args.domain_id if args.domain_id is not None else 100 + os.getpid() % 100
    threshold = contract.threshold if args.threshold is None else args.threshold
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dense_ood_demo_") as tmp:
        dds_env = _fastdds_env()
        node = _start_node(args, Path(tmp), domain_id, threshold, dds_env)
        try:
            with _RosSide(domain_id, dds_env, node) as ros:
                ros.wait_ready(args.timeout)
                reports = [
                    _run_frame(ros, path, args, contract) for path in _progress(frames, "frames")
                ]
        finally:
            code = node.stop()
        if code != 0:
            raise DemoError(f"the node exited with code {code}: {node.last_line()}")
    return reports, threshold


def _fastdds_env() -> dict[str, str]:
    """The shipped Fast DDS profile (config/fastdds_large_frames.xml) for the node and the demo,
    unless the user set one. Fast DDS's default shared-memory segment, 512 KiB, holds less than
    one frame's five outputs: fragments are dropped and RELIABLE resends them only at the next
    heartbeat (every 3 s), so a frame took ~3 s instead of ~0.1 s. Where the profile is not
    installed: Fast DDS's defaults, said in one line."""
    from dense_ood_ros.tools.node_process import NodeProcessError, large_frames_profile_env

    try:
        return large_frames_profile_env()
    except NodeProcessError as exc:
        print(f"dense-ood demo: {exc}: Fast DDS defaults, frames may take ~3 s", file=sys.stderr)
        return {}


def _start_node(
    args: argparse.Namespace, tmp: Path, domain_id: int, threshold: float, dds_env: dict[str, str]
) -> NodeProcess:
    params = {
        "model_path": str(args.model.resolve()),
        "backend": args.backend,
        "image_topics": [CAMERA_TOPIC],
        "anomaly_threshold": float(threshold),
        "qos": "reliable",  # the demo waits for every output of every frame
    }
    return start_node(params, tmp, domain_id=domain_id, env=dds_env)


class _RosSide:
    """The demo's side of the node: a camera publisher and the five outputs, over RosClient."""

    def __init__(self, domain_id: int, dds_env: dict[str, str], node: NodeProcess) -> None:
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        self.process = node
        self.client = RosClient(domain_id, "dense_ood_demo", dds_env)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.publisher = self.client.publisher(Image, CAMERA_TOPIC, qos)
        self.outputs = self.client.subscribe_outputs(CAMERA_TOPIC, qos)

    def __enter__(self) -> _RosSide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def spin_until(self, condition: Any, timeout: float) -> None:
        """Spin until `condition()`; DemoError when the node stops or `timeout` passes first."""
        if self.client.spin_until(lambda: condition() or self.process.exited(), timeout):
            if condition():
                return
            raise DemoError(f"the node stopped: {self.process.last_line()}")
        raise DemoError(f"timed out after {timeout:g} s; node says: {self.process.last_line()}")

    def wait_ready(self, timeout: float) -> None:
        """Until the node subscribes to the camera and our output subscriptions match it."""
        topics = list(self.outputs.values())
        self.spin_until(lambda: self.client.matched([self.publisher], topics), timeout)

    def frame_outputs(self, key: tuple[int, int]) -> dict[str, tuple[float, Any]] | None:
        """(arrival, message) of each output of the frame stamped `key`, once all arrived."""
        found = {}
        for name, topic in self.outputs.items():
            received = self.client.received[topic]
            match = [item for item in received if stamp_key(item[1].header) == key]
            if not match:
                return None
            found[name] = match[0]
        return found


def _run_frame(ros: _RosSide, path: Path, args: argparse.Namespace, contract: Any) -> FrameReport:
    from std_msgs.msg import Header

    from dense_ood_ros.codec.messages import image_msg_from_array

    rgb = read_rgb(path)
    pixels = rgb if args.encoding == "rgb8" else np.ascontiguousarray(rgb[..., ::-1])
    header = Header(frame_id=FRAME_ID)
    header.stamp = ros.client.node.get_clock().now().to_msg()
    key = (header.stamp.sec, header.stamp.nanosec)
    sent = time.monotonic()
    ros.publisher.publish(image_msg_from_array(pixels, args.encoding, header))
    ros.spin_until(lambda: ros.frame_outputs(key) is not None, args.timeout)
    arrived = ros.frame_outputs(key) or {}
    for topic in ros.outputs.values():
        ros.client.received[topic].clear()
    latest = max(at for at, _ in arrived.values())
    outputs = {name: msg for name, (_, msg) in arrived.items()}
    mask = _write_outputs(args.output / path.stem, outputs, contract)
    return FrameReport(
        name=path.name,
        height=rgb.shape[0],
        width=rgb.shape[1],
        latency_ms=(latest - sent) * 1e3,
        anomalous_pct=float((mask > 0).mean() * 100.0),
    )


# --- outputs ----------------------------------------------------------------------------------


def heat_map(score: np.ndarray, score_name: str) -> np.ndarray:
    """BGR heat map of a score: [0, 1] for the JSD score, the frame's own range otherwise."""
    from dense_ood_ros.metrics.plots import score_heatmap

    low, high = (0.0, 1.0) if score_name == "jsd" else (None, None)
    return cv2.cvtColor(score_heatmap(score, low, high), cv2.COLOR_RGB2BGR)


def _write_outputs(prefix: Path, outputs: dict[str, Any], contract: Any) -> np.ndarray:
    """`<stem>_overlay.png`, `_semantic_color.png`, `_anomaly_heat.png`, `_anomaly_mask.png`."""
    from dense_ood_ros.codec.messages import array_from_image_msg

    images = {
        "overlay": cv2.cvtColor(array_from_image_msg(outputs["overlay"]), cv2.COLOR_RGB2BGR),
        "semantic_color": cv2.cvtColor(
            array_from_image_msg(outputs["semantic_color"]), cv2.COLOR_RGB2BGR
        ),
        "anomaly_heat": heat_map(array_from_image_msg(outputs["anomaly_score"]), contract.score),
        "anomaly_mask": array_from_image_msg(outputs["anomaly_mask"]),
    }
    for suffix, image in images.items():
        path = prefix.with_name(f"{prefix.name}_{suffix}.png")
        if not cv2.imwrite(str(path), image):
            raise DemoError(f"cannot write {path}")
    return images["anomaly_mask"]


def _progress(items: list[Path], unit: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, unit=unit.rstrip("s"), desc="dense-ood demo", file=sys.stderr)


def _print_summary(
    reports: list[FrameReport], contract: Any, threshold: float, args: argparse.Namespace
) -> None:
    width = max([len("frame"), *(len(r.name) for r in reports)])
    print(f"{'frame':<{width}}  {'size (HxW)':>11}  {'latency ms':>10}  {'anomalous %':>11}")
    for r in reports:
        size = f"{r.height}x{r.width}"
        print(f"{r.name:<{width}}  {size:>11}  {r.latency_ms:>10.1f}  {r.anomalous_pct:>11.2f}")
    latencies = [r.latency_ms for r in reports]
    print(
        f"\n{len(reports)} frames, latency median {np.median(latencies):.1f} ms "
        f"(publish to the last of the five outputs; the first frame includes warm-up)"
    )
    print(f"model: {args.model}")
    print(f"classes ({contract.num_classes}): {', '.join(contract.class_names)}")
    print(
        f"score: {contract.score}; anomaly threshold {threshold:g}"
        f"{' (the model default)' if args.threshold is None else ''}; "
        f"model input {contract.input_hw[0]}x{contract.input_hw[1]}"
    )
    print(f"PNGs (overlay, semantic_color, anomaly_heat, anomaly_mask) in {args.output}/")
