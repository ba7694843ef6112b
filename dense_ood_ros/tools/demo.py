"""Run the live node on a folder of images and save what it publishes.

Starts the real node (`python -m dense_ood_ros.node`) in its own ROS domain on localhost,
publishes each image on /camera/image_raw, waits for the node's five outputs, writes per frame
the overlay, the semantic colours, an anomaly heat map and the anomaly mask as PNGs into
--output, and prints a table (size, latency from publish to the last output, anomalous pixel
share) and what the model says about itself (classes, score, threshold).

Obstacles: the demo cuts each frame's anomaly obstacles out of the node's received
anomaly_score and semantic images with the pipeline's own `extract_obstacles` (both brought back
to the model's input size first, default settings) and places them on flat ground through an
ASSUMED camera: the one the sample frames' objects were drawn with (scripts/make_real_samples.py:
focal length 0.9 x the width, horizon at 59 % of the height, level; 1.4 m above the road unless
--camera-height-m says otherwise). It prints them per frame and writes `<stem>_obstacles.png`,
the overlay with each obstacle's box and distance.
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
from dense_ood_ros.pipeline.ground import GroundCamera, PlacedObstacle
from dense_ood_ros.tools.node_process import NodeProcess, start_node
from dense_ood_ros.tools.ros_client import RosClient, stamp_key

DEFAULT_MODEL = default_demo_model()
DEFAULT_IMAGES = sample_frames_dir()
CAMERA_TOPIC = "/camera/image_raw"
FRAME_ID = "camera"
#: The assumed camera of the sample frames (scripts/make_real_samples.py drew their objects with
#: it): focal length as a share of the width, horizon row as a share of the height, height (m).
ASSUMED_FOCAL_SHARE, ASSUMED_HORIZON_SHARE, ASSUMED_HEIGHT_M = 0.9, 0.59, 1.4


class DemoError(DenseOodError, RuntimeError):
    """A user-facing, one-line reason the demo cannot run."""


@dataclass
class FrameReport:
    name: str
    height: int
    width: int
    latency_ms: float
    anomalous_pct: float
    obstacles: list[PlacedObstacle]


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
    parser.add_argument(
        "--camera-height-m",
        type=float,
        default=ASSUMED_HEIGHT_M,
        metavar="M",
        help="assumed height of the camera above the road, for the obstacles' distances "
        "(focal length 0.9 x the width, horizon at 59%% of the height and a level camera are "
        "assumed too: the sample frames' camera)",
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
    if not args.camera_height_m > 0:
        raise DemoError(f"--camera-height-m must be > 0, got {args.camera_height_m:g}")
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
    threshold = contract.threshold if args.threshold is None else args.threshold
    mask, placed = _write_outputs(
        args.output / path.stem, outputs, contract, threshold, args.camera_height_m
    )
    return FrameReport(
        name=path.name,
        height=rgb.shape[0],
        width=rgb.shape[1],
        latency_ms=(latest - sent) * 1e3,
        anomalous_pct=float((mask > 0).mean() * 100.0),
        obstacles=placed,
    )


# --- outputs ----------------------------------------------------------------------------------


def heat_map(score: np.ndarray, score_name: str) -> np.ndarray:
    """BGR heat map of a score: [0, 1] for the JSD score, the frame's own range otherwise."""
    from dense_ood_ros.metrics.plots import score_heatmap

    low, high = (0.0, 1.0) if score_name == "jsd" else (None, None)
    return cv2.cvtColor(score_heatmap(score, low, high), cv2.COLOR_RGB2BGR)


def assumed_camera(height: int, width: int, height_m: float) -> GroundCamera:
    """The sample frames' camera for a frame of `height` x `width` (assumed, see the module)."""
    focal = ASSUMED_FOCAL_SHARE * width
    return GroundCamera(focal, focal, width / 2, ASSUMED_HORIZON_SHARE * height, width, height,
                        height_m, 0.0)  # fmt: skip


def obstacles_of(
    score: np.ndarray, semantic: np.ndarray, contract: Any, threshold: float,
    camera: GroundCamera | None,
) -> list[PlacedObstacle]:  # fmt: skip
    """A frame's obstacles from the node's anomaly_score and semantic images: brought back to
    the model's input size (as the pipeline cuts them there), default settings, placed."""
    from dense_ood_ros.codec.resize import resize_to
    from dense_ood_ros.pipeline.frame_pipeline import NEAREST
    from dense_ood_ros.pipeline.ground import place
    from dense_ood_ros.pipeline.obstacles import ObstacleSettings, extract_obstacles

    model_score = resize_to(np.asarray(score, np.float32), contract.input_hw)
    model_semantic = resize_to(semantic, contract.input_hw, NEAREST)
    mask = cv2.compare(model_score, np.float64(threshold), cv2.CMP_GE)
    found = extract_obstacles(mask, model_score, model_semantic, contract.class_names,
                              score.shape[:2], ObstacleSettings())  # fmt: skip
    return [place(obstacle, camera) for obstacle in found]


def draw_obstacles(bgr: np.ndarray, placed: list[PlacedObstacle]) -> np.ndarray:
    """A copy of `bgr` with each obstacle's box and its distance (or "?" without one)."""
    out = bgr.copy()
    thickness = max(1, round(max(out.shape[:2]) / 400))
    scale = max(0.4, max(out.shape[:2]) / 1600)
    for p in placed:
        x0, y0, x1, y1 = p.image.box
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (0, 255, 255), thickness)
        text = f"{p.distance_m:.1f} m" if p.distance_m is not None else "? m"
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = y0 - h - base - 2 if y0 - h - base - 2 >= 0 else y1 + 2
        cv2.rectangle(out, (x0, top), (x0 + w + 4, top + h + base + 2), (0, 0, 0), -1)
        cv2.putText(out, text, (x0 + 2, top + h + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 255, 255), thickness, cv2.LINE_AA)  # fmt: skip
    return out


def _write_outputs(
    prefix: Path, outputs: dict[str, Any], contract: Any, threshold: float, height_m: float
) -> tuple[np.ndarray, list[PlacedObstacle]]:
    """`<stem>_overlay.png`, `_semantic_color.png`, `_anomaly_heat.png`, `_anomaly_mask.png` and
    `_obstacles.png`; returns the mask and the obstacles."""
    from dense_ood_ros.codec.messages import array_from_image_msg

    score = array_from_image_msg(outputs["anomaly_score"])
    camera = assumed_camera(score.shape[0], score.shape[1], height_m)
    placed = obstacles_of(
        score, array_from_image_msg(outputs["semantic"]), contract, threshold, camera
    )
    images = {
        "overlay": cv2.cvtColor(array_from_image_msg(outputs["overlay"]), cv2.COLOR_RGB2BGR),
        "semantic_color": cv2.cvtColor(
            array_from_image_msg(outputs["semantic_color"]), cv2.COLOR_RGB2BGR
        ),
        "anomaly_heat": heat_map(score, contract.score),
        "anomaly_mask": array_from_image_msg(outputs["anomaly_mask"]),
    }
    images["obstacles"] = draw_obstacles(images["overlay"], placed)
    for suffix, image in images.items():
        path = prefix.with_name(f"{prefix.name}_{suffix}.png")
        if not cv2.imwrite(str(path), image):
            raise DemoError(f"cannot write {path}")
    return images["anomaly_mask"], placed


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
    print(obstacle_text(reports, args.camera_height_m))
    print(
        f"PNGs (overlay, semantic_color, anomaly_heat, anomaly_mask, obstacles) in {args.output}/"
    )


def obstacle_text(reports: list[FrameReport], height_m: float) -> str:
    """Each frame's obstacles: box, area, what it stands on, distance and lateral offset."""
    lines = [
        f"\nobstacles (cut from the received anomaly_score and semantic images; distances "
        f"through an ASSUMED camera {height_m:g} m above flat ground, level, focal length "
        f"{ASSUMED_FOCAL_SHARE:g} x the width, horizon at {100 * ASSUMED_HORIZON_SHARE:g}% of "
        "the height: the sample frames' camera):"
    ]
    for r in reports:
        lines.append(f"{r.name}: {len(r.obstacles) or 'no'} obstacle(s)")
        for p in r.obstacles:
            x0, y0, x1, y1 = p.image.box
            where = "no ground position (above the horizon)"
            if p.distance_m is not None and p.lateral_m is not None:
                side = "right" if p.lateral_m >= 0 else "left"
                where = f"{p.distance_m:.1f} m ahead, {abs(p.lateral_m):.1f} m {side}"
            lines.append(
                f"  box ({x0}, {y0})-({x1}, {y1}), {p.image.area_px} px, stands on "
                f"{p.image.stands_on or '?'}, {where}"
            )
    return "\n".join(lines)
