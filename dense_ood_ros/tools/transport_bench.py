"""Measure the node over real DDS: frames published by a camera against masks published back.

Starts the node (its defaults: `qos: auto`) in a private ROS domain on localhost, publishes
synthetic bgr8 frames at --rate with the camera QoS given by --reliability, and counts over a
window after a warm-up the frames published, the frames the node received, processed, dropped
and lost in transport (its /diagnostics), and the anomaly masks that came back. --profile runs
node and camera with config/fastdds_large_frames.xml.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from dense_ood_ros.errors import DenseOodError

CAMERA = "/bench_camera/image_raw"


class TransportBenchError(DenseOodError, RuntimeError):
    """The node did not start or did not answer."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.model.bundled import default_demo_model

    parser.add_argument("--model", type=Path, default=default_demo_model(), help="model (.onnx)")
    parser.add_argument("--height", type=int, default=480, help="camera frame height")
    parser.add_argument("--width", type=int, default=640, help="camera frame width")
    parser.add_argument("--rate", type=float, default=10.0, help="camera frames per second")
    parser.add_argument(
        "--reliability", choices=("reliable", "best_effort"), default="reliable",
        help="the camera publisher's QoS reliability",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true", help="node and camera use the large-frames profile"
    )
    parser.add_argument("--qos", default=None, help="the node's qos parameter (default: its own)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before the window")


def run(args: argparse.Namespace) -> int:
    row = measure(args)
    print(
        f"{args.width}x{args.height} bgr8 at {args.rate:g} Hz, {args.reliability} camera, "
        f"profile {'on' if args.profile else 'off'}: published {row['published_hz']:.1f}/s, "
        f"node received {row['received_hz']:.1f}/s, masks back {row['masks_hz']:.1f}/s, "
        f"lost in transport {row['frames_lost']}, dropped {row['frames_dropped']}"
    )
    return 0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run; the rates are over the measured window."""
    from dense_ood_ros.tools.node_process import environ, large_frames_profile_env, start_node

    domain_id = 150 + os.getpid() % 80
    profile = large_frames_profile_env(keep_user_profile=False) if args.profile else {}
    params = {"model_path": str(args.model.resolve()), "image_topics": [CAMERA]}
    if args.qos:
        params["qos"] = args.qos
    with tempfile.TemporaryDirectory(prefix="dense_ood_transport_") as tmp:
        node = start_node(params, Path(tmp), domain_id=domain_id, env=profile)
        try:
            with environ({**profile, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}):
                return _camera_side(args, domain_id, node)
        finally:
            node.stop()


def _camera_side(args: argparse.Namespace, domain_id: int, node: Any) -> dict[str, Any]:
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from dense_ood_ros.codec.image_codec import encode_raw
    from dense_ood_ros.tools.bench.common import synthetic_frame
    from dense_ood_ros.tools.ros_client import RosClient, diagnostic_values
    from dense_ood_ros.topics import output_topics

    client = RosClient(domain_id, "dense_ood_transport_bench")
    policy = (
        ReliabilityPolicy.RELIABLE
        if args.reliability == "reliable"
        else ReliabilityPolicy.BEST_EFFORT
    )
    camera = client.publisher(Image, CAMERA, QoSProfile(depth=5, reliability=policy))
    mask_topic = output_topics(CAMERA)["anomaly_mask"]
    client.subscribe(
        Image, mask_topic, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )
    client.subscribe_diagnostics()
    data, step = encode_raw(synthetic_frame(args.height, args.width), "bgr8")
    msg = Image(height=args.height, width=args.width, encoding="bgr8", step=step, data=data)
    try:
        client.spin_until(lambda: camera.get_subscription_count() > 0 or node.exited(), 60)
        if camera.get_subscription_count() == 0:
            raise TransportBenchError(f"the node did not come up: {node.last_line()}")
        start = time.monotonic()
        window = (start + args.warmup, start + args.warmup + args.seconds)
        published: list[float] = []
        next_at = start
        while time.monotonic() < window[1] + 1.5:  # and a last diagnostics message
            now = time.monotonic()
            if now >= next_at and now < window[1]:
                msg.header.stamp = client.node.get_clock().now().to_msg()
                camera.publish(msg)
                published.append(now)
                next_at += 1.0 / args.rate
            client.executor.spin_once(timeout_sec=max(0.0, min(0.005, next_at - time.monotonic())))
        masks = [arrived for arrived, _ in client.received[mask_topic]]
        statuses = [
            (arrived, diagnostic_values(status))
            for arrived, status in reversed(list(client.statuses(CAMERA)))
        ]
    finally:
        client.close()
    return _rates(window, published, masks, statuses)


def _rates(window, published, masks, statuses) -> dict[str, Any]:
    """Per-second rates over `window` from the timestamps and the node's diagnostics."""
    seconds = window[1] - window[0]
    inside = [(t, s) for t, s in statuses if window[0] <= t <= window[1]]
    if len(inside) < 2:
        raise TransportBenchError("no diagnostics from the node during the window")
    (t0, first), (t1, last) = inside[0], inside[-1]

    def delta(key: str) -> int | str:
        if not (first[key].isdigit() and last[key].isdigit()):
            return last[key]  # "n/a": this rclpy reports no sequence numbers
        return int(last[key]) - int(first[key])

    def rate(key: str) -> float | None:
        """The node's own count per second, over the span between its statuses."""
        count = delta(key)
        return count / (t1 - t0) if isinstance(count, int) else None

    return {
        "published_hz": sum(window[0] <= t < window[1] for t in published) / seconds,
        "received_hz": rate("frames_in"),
        "masks_hz": sum(window[0] <= t < window[1] + 0.5 for t in masks) / seconds,
        "lost_hz": rate("frames_lost"),
        "dropped_hz": rate("frames_dropped"),
        "frames_lost": delta("frames_lost"),
        "frames_dropped": delta("frames_dropped"),
    }
