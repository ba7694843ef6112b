"""Render a live node's anomaly obstacles as RViz would show them: docs/images/node_obstacles.png.

    .venv-runtime/bin/python scripts/render_obstacles.py --image data/samples/solidWhiteRight.jpg

Starts the real node (`python -m dense_ood_ros.node`, the bundled CamVid model by default,
`qos: reliable`, camera_height_m and camera_pitch_rad set) in a private ROS domain on localhost,
publishes a CameraInfo on /camera/camera_info and one sample frame on /camera/image_raw with the
same stamp, and receives that frame's `overlay` (sensor_msgs/Image), `anomaly_obstacles`
(visualization_msgs/MarkerArray) and `anomaly_points` (sensor_msgs/PointCloud2). Nothing is
recomputed here: the PNG shows the node's messages.

- left: the overlay, each CUBE marker's 8 corners projected back into the image through K
  (its 12 edges drawn) and its TEXT_VIEW_FACING label at its projected position;
- right: a bird's-eye view of the ground (x lateral, forward along the ground, metres, grid
  every 5 m, the camera at the bottom with its field of view), each cube's footprint as a
  rectangle with its label, and the point cloud as dots coloured by score.

The camera is an ASSUMED one: the one scripts/make_real_samples.py pasted the sample frames'
objects with (focal length 0.9 x the width, principal point at the centre column and the horizon
row, level, 1.4 m above flat ground). Distances are only as right as that assumption.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.model.bundled import default_demo_model, sample_frames_dir

CAMERA_TOPIC = "/camera/image_raw"
INFO_TOPIC = "/camera/camera_info"
FRAME_ID = "camera_optical_frame"
CUBE, TEXT_VIEW_FACING, ADD = 1, 9, 0
#: scripts/make_real_samples.py's cameras by frame size (width, height): horizon row as a share
#: of the height. Focal length 0.9 x the width for both, 1.4 m above the road, level.
SAMPLE_HORIZON_SHARE = {(1280, 720): 0.60, (960, 540): 0.585}
FALLBACK_HORIZON_SHARE = 0.59  # the demo's single assumed camera
FOCAL_SHARE, HEIGHT_M, PITCH_RAD = 0.9, 1.4, 0.0
DEFAULT_IMAGE = sample_frames_dir() / "solidWhiteRight.jpg"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "node_obstacles.png"
#: The 12 edges of a box between its corners, numbered by their sign bits (x, y, z).
BOX_EDGES = [(a, b) for a in range(8) for b in range(8) if a < b and bin(a ^ b).count("1") == 1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Render a live dense_ood node's anomaly obstacles (overlay with the "
        "markers projected through K, and a bird's-eye view of markers and points) as a PNG.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model", type=Path, default=default_demo_model(), help="contract-1 model the node serves"
    )
    parser.add_argument(
        "--image",
        type=Path,
        default=DEFAULT_IMAGE,
        help="camera frame to publish (a data/samples frame: their objects were pasted with the "
        "assumed camera)",
    )
    parser.add_argument(
        "--height",
        type=float,
        default=HEIGHT_M,
        help="camera_height_m: optical centre above the flat ground (m)",
    )
    parser.add_argument(
        "--pitch",
        type=float,
        default=PITCH_RAD,
        help="camera_pitch_rad: downward tilt of the optical axis (rad, 0 = level)",
    )
    parser.add_argument(
        "--focal-share",
        type=float,
        default=FOCAL_SHARE,
        help="focal length of the published CameraInfo K, as a share of the frame's width",
    )
    parser.add_argument(
        "--horizon-share",
        type=float,
        default=None,
        help="principal point row (the horizon of a level camera) as a share of the frame's "
        "height; default: make_real_samples.py's for the frame's size (0.60 for 1280x720, "
        f"0.585 for 960x540), else {FALLBACK_HORIZON_SHARE}",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG to write")
    parser.add_argument(
        "--range",
        type=float,
        default=30.0,
        help="metres ahead shown in the bird's-eye view (a third of it to each side); "
        "obstacles beyond are listed in its title, points beyond counted",
    )
    parser.add_argument(
        "--colors",
        type=int,
        default=256,
        help="palette size of the PNG (fewer: a smaller file); 0 keeps full RGB",
    )
    parser.add_argument(
        "--width-px", type=int, default=1600, help="width of the rendered PNG in pixels"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the node and the frame"
    )
    parser.add_argument(
        "--domain-id",
        type=int,
        default=None,
        help="ROS_DOMAIN_ID of the node and this script (default: one picked from the pid)",
    )
    return parser.parse_args(argv)


# --- the live node ----------------------------------------------------------------------------


def camera_k(width: int, height: int, focal_share: float, horizon_share: float) -> list[float]:
    """Row-major 3x3 K of the assumed camera: f = focal_share x width, square pixels,
    principal point at the centre column and the horizon row."""
    f = focal_share * width
    return [f, 0.0, width / 2, 0.0, f, horizon_share * height, 0.0, 0.0, 1.0]


def camera_info_msg(header: Any, width: int, height: int, k: list[float]) -> Any:
    from sensor_msgs.msg import CameraInfo

    p = [k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
    return CameraInfo(header=header, height=height, width=width, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=k, r=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], p=p)  # fmt: skip


def fastdds_env() -> dict[str, str]:
    """The shipped large-frames Fast DDS profile, where installed (see docs/node.md)."""
    from dense_ood_ros.tools.node_process import NodeProcessError, large_frames_profile_env

    try:
        return large_frames_profile_env()
    except NodeProcessError as exc:
        print(f"render_obstacles: {exc}: Fast DDS defaults", file=sys.stderr)
        return {}


def receive(args: argparse.Namespace, rgb: np.ndarray, k: list[float]) -> dict[str, Any]:
    """Start the node, publish the CameraInfo and the frame, and return the frame's overlay,
    anomaly_obstacles and anomaly_points (one stamp), with the header sent."""
    from dense_ood_ros.tools.node_process import start_node
    from dense_ood_ros.tools.ros_client import RosClient
    from dense_ood_ros.topics import obstacle_topics, output_topics

    domain_id = args.domain_id if args.domain_id is not None else 150 + os.getpid() % 70
    env = {**fastdds_env(), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    params = {
        "model_path": str(args.model.resolve()),
        "image_topics": [CAMERA_TOPIC],
        "qos": "reliable",
        "camera_height_m": float(args.height),
        "camera_pitch_rad": float(args.pitch),
    }
    with tempfile.TemporaryDirectory(prefix="render_obstacles_") as tmp:
        node_env = {**env, "ROS_LOG_DIR": str(Path(tmp) / "ros_log"), "PYTHONUNBUFFERED": "1"}
        node = start_node(params, Path(tmp), domain_id=domain_id, env=node_env)
        try:
            with RosClient(domain_id, "render_obstacles", env) as client:
                topics = {**obstacle_topics(CAMERA_TOPIC),
                          "overlay": output_topics(CAMERA_TOPIC)["overlay"]}  # fmt: skip
                return _exchange(client, node, args, rgb, k, topics)
        finally:
            if node.stop() != 0:
                print(f"render_obstacles: node log tail:\n{node.output()[-2000:]}", file=sys.stderr)


def _exchange(
    client: Any, node: Any, args: argparse.Namespace, rgb: np.ndarray, k: list[float],
    topics: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """Publish CameraInfo and frame (a new stamp per try) until the frame's three outputs
    arrive with a cube among the markers, or the timeout passes (then the last outputs)."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from std_msgs.msg import Header
    from visualization_msgs.msg import MarkerArray

    from dense_ood_ros.codec.messages import image_msg_from_array
    from dense_ood_ros.tools.ros_client import stamp_key

    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    kinds = {"anomaly_obstacles": MarkerArray, "anomaly_points": PointCloud2, "overlay": Image}
    for name, topic in topics.items():
        client.subscribe(kinds[name], topic, qos)
    camera = client.publisher(Image, CAMERA_TOPIC, qos)
    info = client.publisher(CameraInfo, INFO_TOPIC, qos)  # the node's best effort matches it
    ready = client.spin_until(
        lambda: node.exited() or client.matched([camera, info], list(topics.values())),
        args.timeout,
    )
    if node.exited() or not ready:
        raise SystemExit(f"render_obstacles: the node did not come up:\n{node.output()[-2000:]}")

    def stamp_of(name: str, msg: Any) -> tuple[int, int] | None:
        if name != "anomaly_obstacles":
            return stamp_key(msg.header)
        return stamp_key(msg.markers[0].header) if msg.markers else None

    def found(key: tuple[int, int]) -> dict[str, Any] | None:
        got = {}
        for name, topic in topics.items():
            match = [m for _, m in client.received[topic] if stamp_of(name, m) == key]
            if not match:
                return None
            got[name] = match[-1]
        return got

    height, width = rgb.shape[:2]
    deadline = time.monotonic() + args.timeout
    got: dict[str, Any] | None = None
    while time.monotonic() < deadline:  # a new stamp per try: the first may beat the info
        header = Header(frame_id=FRAME_ID)
        header.stamp = client.node.get_clock().now().to_msg()
        key = stamp_key(header)
        for _ in range(3):
            info.publish(camera_info_msg(header, width, height, k))
            client.spin_for(0.1)
        camera.publish(image_msg_from_array(rgb, "rgb8", header))
        if client.spin_until(lambda k_=key: found(k_) is not None, args.timeout):
            got = found(key)
            assert got is not None
            got["header"] = header
            if any(m.type == CUBE for m in got["anomaly_obstacles"].markers):
                return got
        if node.exited():
            break
    if got is None:
        raise SystemExit(f"render_obstacles: no outputs in time:\n{node.output()[-2000:]}")
    print("render_obstacles: the node placed no obstacle on this frame", file=sys.stderr)
    return got


# --- geometry ---------------------------------------------------------------------------------


def rotation(q: Any) -> np.ndarray:
    """3x3 rotation matrix of a geometry_msgs/Quaternion."""
    x, y, z, w = q.x, q.y, q.z, q.w
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def cube_corners(marker: Any) -> np.ndarray:
    """The 8 corners of a CUBE marker in its frame, [8, 3]; corner i has sign bits (x, y, z)."""
    half = np.array([marker.scale.x, marker.scale.y, marker.scale.z]) / 2
    signs = np.array([[1 if i & 4 else -1, 1 if i & 2 else -1, 1 if i & 1 else -1]
                      for i in range(8)])  # fmt: skip
    centre = np.array([marker.pose.position.x, marker.pose.position.y, marker.pose.position.z])
    return centre + (signs * half) @ rotation(marker.pose.orientation).T


def project(points: np.ndarray, k: list[float]) -> np.ndarray:
    """Optical-frame points [N, 3] -> pixels [N, 2] through K (pinhole, no distortion)."""
    fx, cx, fy, cy = k[0], k[2], k[4], k[5]
    z = points[:, 2]
    return np.column_stack([fx * points[:, 0] / z + cx, fy * points[:, 1] / z + cy])


def on_ground(points: np.ndarray, pitch: float) -> np.ndarray:
    """Optical-frame points [N, 3] -> (lateral, forward along the ground) [N, 2]: x, and the
    component along the pitched camera's horizontal forward (z for a level camera)."""
    forward = np.array([0.0, -math.sin(pitch), math.cos(pitch)])
    return np.column_stack([points[:, 0], points @ forward])


def cloud_records(cloud: Any) -> np.ndarray:
    from dense_ood_ros.pipeline.obstacle_messages import CLOUD_DTYPE

    data = np.frombuffer(bytes(cloud.data), np.uint8)
    return data.view(CLOUD_DTYPE) if len(data) else np.zeros(0, CLOUD_DTYPE)


# --- rendering --------------------------------------------------------------------------------


def render(got: dict[str, Any], k: list[float], args: argparse.Namespace) -> bytes:
    """The two panels as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    from dense_ood_ros.codec.messages import array_from_image_msg

    overlay = array_from_image_msg(got["overlay"])
    height, width = overlay.shape[:2]
    markers = got["anomaly_obstacles"].markers
    cubes = {m.id: m for m in markers if m.type == CUBE and m.action == ADD}
    texts = {m.id: m for m in markers if m.type == TEXT_VIEW_FACING and m.action == ADD}
    points = cloud_records(got["anomaly_points"])
    colours = plt.get_cmap("tab10")

    far = float(args.range)
    side = 5 * math.ceil(far / 3 / 5)
    # Figure height such that both panels (the image, the equal-aspect view) fill the width.
    left_aspect, right_aspect = width / height, 2 * side / (far + 1.5)
    fig_w = args.width_px / 100
    axes_h = (fig_w - 2.2) / (left_aspect + right_aspect)  # inches; 2.2: colorbar and labels
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(fig_w, axes_h / 0.77), dpi=100,
        gridspec_kw={"width_ratios": [left_aspect, right_aspect * 1.3]},
    )  # fmt: skip
    left.imshow(overlay)
    left.set_xlim(0, width)
    left.set_ylim(height, 0)
    left.set_axis_off()
    left.set_title(f"overlay + anomaly_obstacles projected through K ({args.image.name})",
                   fontsize=10)  # fmt: skip
    for index, (marker_id, cube) in enumerate(sorted(cubes.items())):
        colour = colours(index % 10)
        pixels = project(cube_corners(cube), k)
        for a, b in BOX_EDGES:
            left.plot(*pixels[[a, b]].T, color=colour, linewidth=1.6)
        if marker_id in texts:
            text = texts[marker_id]
            at = project(np.array([[text.pose.position.x, text.pose.position.y,
                                    text.pose.position.z]]), k)[0]  # fmt: skip
            left.text(at[0], at[1], text.text, color="white", fontsize=8, ha="center",
                      va="bottom", bbox={"facecolor": colour, "alpha": 0.8, "pad": 1.5,
                                         "edgecolor": "none"})  # fmt: skip

    # Bird's-eye view: footprints of the cubes (their axes are x, the vertical and forward),
    # the points, the camera and its field of view, to --range metres ahead.
    footprints = {i: on_ground(cube_corners(c), args.pitch) for i, c in cubes.items()}
    xyz = np.column_stack([points["x"], points["y"], points["z"]]).astype(np.float64)
    ground = on_ground(xyz, args.pitch) if len(points) else np.zeros((0, 2))
    shown = (np.abs(ground[:, 0]) <= side) & (ground[:, 1] <= far)
    half_fov = width / 2 / k[0]  # tan of half the horizontal field of view
    edge = min(far, side / half_fov)
    right.fill([0, -half_fov * edge, -side, side, half_fov * edge],
               [0, edge, far, far, edge], color="0.94", zorder=0)  # fmt: skip
    for sign in (-1, 1):
        right.plot([0, sign * half_fov * far], [0, far], color="0.55", linewidth=0.8)
    beyond = []
    for index, marker_id in enumerate(sorted(cubes)):
        colour = colours(index % 10)
        label = texts[marker_id].text if marker_id in texts else f"cube {marker_id}"
        footprint = footprints[marker_id]
        x0, x1 = footprint[:, 0].min(), footprint[:, 0].max()
        z0, z1 = footprint[:, 1].min(), footprint[:, 1].max()
        if z0 > far or abs(x0 + x1) / 2 > side:
            beyond.append(label.split(",")[0])
            continue
        corners = [(x0, z0), (x1, z0), (x1, z1), (x0, z1)]
        right.add_patch(Polygon(corners, closed=True, facecolor=colour, alpha=0.45,
                                edgecolor=colour, linewidth=1.5, zorder=2))  # fmt: skip
        right.annotate(label, (x1, z1), xytext=(4, 6), textcoords="offset points",
                       fontsize=8, color="black",
                       bbox={"facecolor": "white", "alpha": 0.85, "pad": 1.0,
                             "edgecolor": colour})  # fmt: skip
    cmap = plt.get_cmap("plasma", 10)  # ten steps: the PNG's palette keeps them exact
    # the score's own range over all points: a JSD lies in [0, 1], energy is unbounded
    scores = points["score"]
    low, high = (float(scores.min()), float(scores.max())) if scores.size else (0.0, 1.0)
    high = max(high, low + 1e-6)
    dots = right.scatter(ground[shown, 0], ground[shown, 1], c=scores[shown],
                         cmap=cmap, vmin=low, vmax=high, s=6, zorder=3)  # fmt: skip
    bar = fig.colorbar(dots, ax=right, fraction=0.06, pad=0.03)
    bar.set_label("anomaly_points score", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    right.plot([0], [0], marker="^", markersize=9, color="tab:blue", zorder=4)
    right.annotate("camera", (0, 0), xytext=(7, -2), textcoords="offset points", fontsize=8)
    right.set_xlim(-side, side)
    right.set_ylim(-1.5, far)
    right.set_aspect("equal")
    right.set_xticks(np.arange(-side, side + 0.1, 5))
    right.set_yticks(np.arange(0, far + 0.1, 5))
    right.tick_params(labelsize=7)
    right.grid(True, color="0.7", linewidth=0.6)
    right.set_xlabel("x, lateral (m, right +)", fontsize=8)
    right.set_ylabel("forward along the ground (m)", fontsize=8)
    title = f"bird's-eye: {len(cubes)} cube(s), {int(shown.sum())} of {len(points)} points"
    if beyond:
        title += f"\nbeyond {far:g} m: {', '.join(beyond)}"
    right.set_title(title, fontsize=9)

    stamp = got["header"].stamp
    fig.suptitle(
        f"live node, one frame (stamp {stamp.sec}.{stamp.nanosec:09d}); ASSUMED camera: "
        f"f = {k[0]:.0f} px, horizon row {k[5]:.0f}, {args.height:g} m high, pitch "
        f"{args.pitch:g} rad (the sample's pasting camera)",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.005, right=0.96, bottom=0.09, top=0.86, wspace=0.06)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def write_png(data: bytes, path: Path, colors: int) -> None:
    """`data` (a PNG) to `path`, reduced to a `colors` palette (0: as it is)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if colors <= 0:
        path.write_bytes(data)
        return
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def describe(got: dict[str, Any], args: argparse.Namespace) -> str:
    markers = got["anomaly_obstacles"].markers
    lines = [f"{args.output}: {args.output.stat().st_size / 1024:.0f} KiB"]
    points = cloud_records(got["anomaly_points"])
    lines.append(f"{len(points)} anomaly_points")
    for m in markers:
        if m.type == CUBE:
            p = m.pose.position
            lines.append(f"cube {m.id}: centre ({p.x:.2f}, {p.y:.2f}, {p.z:.2f}) m, "
                         f"size {m.scale.x:.2f} x {m.scale.y:.2f} x {m.scale.z:.2f} m")  # fmt: skip
        elif m.type == TEXT_VIEW_FACING:
            lines.append(f"label {m.id}: {m.text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from dense_ood_ros.codec.image_codec import read_rgb

    if not args.model.is_file():
        raise SystemExit(f"render_obstacles: no model at {args.model}")
    rgb = read_rgb(args.image)
    height, width = rgb.shape[:2]
    horizon = args.horizon_share
    if horizon is None:
        horizon = SAMPLE_HORIZON_SHARE.get((width, height), FALLBACK_HORIZON_SHARE)
    k = camera_k(width, height, args.focal_share, horizon)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    got = receive(args, rgb, k)
    write_png(render(got, k, args), args.output, args.colors)
    print(describe(got, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
