"""Replay recorded drives through the node's pipeline: bags in, mask bag and metrics out.

Reads rosbag2 (MCAP, SQLite3, single .mcap/.db3 files, zstd-compressed) and ROS 1 .bag files
with `rosbags`, runs every sensor_msgs Image and CompressedImage frame of the chosen cameras
through the same decoding and pipeline as the live node, and writes the node's five mask topics
per camera (same names, same header stamps) to OUT_BAG. No ROS installation is needed.

Anomaly labels (mono8 sensor_msgs/Image: 0 inlier, 1 anomaly, 255 void) belong to one camera
each, and score that camera's frames of the same header stamp (hardware-triggered cameras share
stamps, so a stamp alone is not enough). `--labels CAMERA_TOPIC=LABELS_TOPIC` pairs them
explicitly, once per labelled camera (CAMERA_TOPIC: the raw or the compressed topic).
`--labels-topic LABELS_TOPIC` (one labelled camera) pairs by rule: the camera in the labels
topic's namespace (/cam_front/image_raw_labels -> the camera under /cam_front; a top-level
labels topic's namespace holds every camera), and where that holds none or several, the camera
whose frames carry the labels' header frame_id.
A pairing that stays ambiguous is an error naming the topics, never a guess. With labels the
replay computes the exact pixel metrics and the SMIYC component metrics over the scored frames
of all bags; frames of cameras without labels are replayed, not scored. --report DIR holds
report.json, report.md (with the scored frames per labelled camera), PR and ROC curves and
sample overlays. Errors are one line on stderr (exit status 2); a bag that cannot be read on,
or NaN or infinite scores on a labelled frame (the line names bag, topic and stamp), end the
replay with status 1 and keep the frames before it in OUT_BAG and the report.

IN_BAG is a bag, a folder searched for bags (rosbag2 folders with metadata.yaml, .mcap, .db3,
.bag), or @LIST (a file of paths, one a line). Alone, every bag goes through this process into
one OUT_BAG, with exact pooled metrics. As a fleet (--workers N: a local Ray cluster of N
workers; --ray-address ADDR: an existing cluster; pip install 'dense_ood_ros[fleet]'), each bag
is one Ray task writing its own output bag under --output, mirroring the input tree; a complete
bag is skipped when the same command runs again, and a bag that fails is reported and does not
stop the others (exit status 1 when any failed). Fleet metrics merge 2**16-bin score histograms:
the report gives each binned metric with an interval that holds the exact value, and the SMIYC
components at the model's threshold (the pooled best-F1 threshold is only known after the merge).

Obstacles (unless --no-obstacles): the node's anomaly obstacles of every frame. With
--camera-height-m (and --camera-pitch-rad) and a sensor_msgs/CameraInfo on a camera's
`<ns>/camera_info` in the bag, they are placed on flat ground; otherwise they have no position.
On labelled frames the report gives the recall of the labelled anomaly components (found: the
obstacles touching one reach sIoU >= 0.25 with it), the false obstacles per frame (those
touching none), both per distance band where positions are known.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import OutputExistsError, check_output_folder

if TYPE_CHECKING:
    from dense_ood_ros.replay.session import ReplayOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dense_ood_ros.engine import BACKENDS
    from dense_ood_ros.model.bundled import default_demo_model
    from dense_ood_ros.pipeline.frame_pipeline import OUTPUT_SIZES
    from dense_ood_ros.replay.bag_output import STORAGES

    parser.add_argument(
        "bags",
        nargs="+",
        metavar="IN_BAG",
        help="bags to replay: bag paths, folders searched for bags, or @LIST (one path a line, "
        "relative to LIST's folder)",
    )
    parser.add_argument(
        "--model", type=Path, default=default_demo_model(), help="contract-1 model (.onnx)"
    )
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        help="output bag folder (a fleet: the folder its output bags mirror the input tree in)",
    )
    parser.add_argument(
        "--topics",
        nargs="+",
        default=None,
        metavar="T",
        help="camera topics to replay (default: every Image and CompressedImage topic)",
    )
    parser.add_argument(
        "--labels",
        action="append",
        default=[],
        metavar="CAMERA_TOPIC=LABELS_TOPIC",
        help="mono8 anomaly labels (0 inlier, 1 anomaly, 255 void) of one camera (its raw or "
        "compressed topic), matched to its frames by header stamp; repeat it for each "
        "labelled camera",
    )
    parser.add_argument(
        "--labels-topic",
        default=None,
        metavar="LABELS_TOPIC",
        help="mono8 anomaly labels of one camera: the one in this topic's namespace, else the "
        "one whose frames carry the labels' header frame_id (still ambiguous: an error; pair "
        "them with --labels)",
    )
    parser.add_argument("--report", type=Path, default=None, help="folder for the report")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--storage", choices=STORAGES, default="mcap", help="output storage")
    parser.add_argument(
        "--copy-inputs", action="store_true", help="also copy the camera topics into OUT_BAG"
    )
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="inference backend")
    parser.add_argument(
        "--threshold", type=float, default=None, help="anomaly threshold (default: the model's)"
    )
    parser.add_argument(
        "--output-size",
        choices=OUTPUT_SIZES,
        default="camera",
        help="masks at the camera's size or at the model's input size (labels must match)",
    )
    parser.add_argument("--no-color", action="store_true", help="skip semantic_color")
    parser.add_argument("--no-overlay", action="store_true", help="skip overlay")
    parser.add_argument("--samples", type=int, default=4, help="overlay frames saved in the report")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output bag and report (a fleet: also replace complete output "
        "bags and those of another run; without it a rerun skips complete bags)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--no-obstacles",
        action="store_true",
        help="do not cut anomaly obstacles out of the masks (no obstacle metrics)",
    )
    parser.add_argument(
        "--camera-height-m",
        type=float,
        default=None,
        metavar="M",
        help="the cameras' optical centre above the ground (m): with a sensor_msgs/CameraInfo "
        "on <ns>/camera_info in the bag, obstacles get positions and distance bands "
        "(default: none)",
    )
    parser.add_argument(
        "--camera-pitch-rad",
        type=float,
        default=0.0,
        metavar="RAD",
        help="downward tilt of the cameras' optical axis (rad; 0 = level, negative = up)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="replay as a fleet on a local Ray cluster of N workers, one bag per task (needs "
        "pip install 'dense_ood_ros[fleet]'; --max-frames then counts per bag)",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="replay as a fleet on the running Ray cluster at ADDR (e.g. HEAD:6379 after "
        "`ray start --head`; bags, model and --output at the same paths on every node)",
    )


def prepare_output_bag(path: Path, overwrite: bool) -> None:
    """A new bag folder at `path`: refuse an existing one unless `overwrite` (and then only
    replace what is a bag, never an arbitrary folder)."""
    if not path.exists():
        return
    if not overwrite:
        raise OutputExistsError(f"--output {path} exists; pass --overwrite to replace it")
    looks_like_bag = path.is_dir() and (
        (path / "metadata.yaml").exists() or any(path.glob("*.mcap")) or any(path.glob("*.db3"))
    )
    if not looks_like_bag:
        raise OutputExistsError(f"--output {path} exists and is not a bag; not replacing it")
    shutil.rmtree(path)


def run(args: argparse.Namespace) -> int:
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline
    from dense_ood_ros.replay.inputs import expand
    from dense_ood_ros.replay.pairing import parse_labels_pair
    from dense_ood_ros.replay.report import report_dict, write_report
    from dense_ood_ros.replay.session import ReplaySession

    if args.max_frames is not None and args.max_frames <= 0:
        raise CommandError("--max-frames must be > 0")
    if args.workers is not None and args.workers <= 0:
        raise CommandError("--workers must be > 0")
    _check_mounting(args)
    labels = [parse_labels_pair(text) for text in args.labels]
    if args.workers is not None or args.ray_address is not None:
        return _run_fleet(args, labels)
    bags = [bag for bag, _ in expand(args.bags)]
    options = _options(args, labels)
    options.bags = bags
    if args.report is not None:
        check_output_folder(args.report, args.overwrite, "--report")
    engine = load_engine(args.model, args.backend)
    pipeline = Pipeline(
        engine, args.threshold, output_size=args.output_size, obstacles=options.obstacle_settings()
    )
    session = ReplaySession(pipeline, options, None if args.no_progress else _progress)
    session.check()
    prepare_output_bag(args.output, args.overwrite)
    result = session.run()
    report = report_dict(result, [str(b) for b in bags], str(args.output), str(args.model))
    text = write_report(result, args.report, report) if args.report else None
    print(text if text is not None else _summary(report))
    print(f"wrote {args.output}" + (f" and {args.report}/" if args.report else ""))
    if result.error:
        raise CommandError(f"{result.error} (frames before it are kept)", exit_code=1)
    return 0


def _check_mounting(args: argparse.Namespace) -> None:
    """--camera-height-m > 0 and --camera-pitch-rad within +-pi/2, or a CommandError."""
    import math

    height, pitch = args.camera_height_m, args.camera_pitch_rad
    if height is not None and not (height > 0 and math.isfinite(height)):
        raise CommandError(f"--camera-height-m must be > 0, got {height:g}")
    if not abs(pitch) < math.pi / 2:
        raise CommandError(f"--camera-pitch-rad must be within (-pi/2, pi/2), got {pitch:g}")


def _options(args: argparse.Namespace, labels: list) -> ReplayOptions:
    """The replay options of the command line, without bags (a fleet sets them per task)."""
    from dense_ood_ros.replay.session import ReplayOptions

    return ReplayOptions(
        bags=[],
        output=args.output,
        topics=args.topics,
        labels_topic=args.labels_topic,
        labels=labels,
        max_frames=args.max_frames,
        storage=args.storage,
        copy_inputs=args.copy_inputs,
        color=not args.no_color,
        overlay=not args.no_overlay,
        samples=args.samples,
        obstacles=not args.no_obstacles,
        camera_height_m=args.camera_height_m,
        camera_pitch_rad=args.camera_pitch_rad,
    )


def _fleet_report_folder(args: argparse.Namespace) -> Path:
    """--report, else OUTPUT/.dense_ood_fleet/report. A previous fleet report is rewritten
    (it is made from every bag's marker, so nothing is lost); another folder needs --overwrite."""
    from dense_ood_ros.replay.fleet import STATE_DIR

    folder = args.report if args.report is not None else args.output / STATE_DIR / "report"
    if not _is_fleet_report(folder / "report.json"):
        check_output_folder(folder, args.overwrite, "--report")
    return folder


def _is_fleet_report(path: Path) -> bool:
    """`path` is the report.json of an earlier fleet."""
    import json

    try:
        return isinstance(json.loads(path.read_text()).get("fleet"), dict)
    except (OSError, ValueError, AttributeError):
        return False


def _run_fleet(args: argparse.Namespace, labels: list) -> int:
    """The bags as a fleet on Ray; status 1 when any bag failed."""
    from dense_ood_ros.replay.fleet import (
        Cluster,
        FleetSettings,
        import_ray,
        run_fleet,
        write_fleet_report,
    )
    from dense_ood_ros.replay.inputs import input_bags

    import_ray()  # before anything else: one line telling how to install it
    if not args.model.is_file():
        raise CommandError(f"--model {args.model}: no such file")
    settings = FleetSettings(
        model=args.model,
        output=args.output,
        options=_options(args, labels),
        backend=args.backend,
        threshold=args.threshold,
        output_size=args.output_size,
        overwrite=args.overwrite,
    )
    bags = input_bags(args.bags, exclude=args.output)
    folder = _fleet_report_folder(args)
    cluster = Cluster(workers=args.workers, address=args.ray_address)
    progress = None if args.no_progress else _fleet_progress
    result = run_fleet(bags, settings, cluster, progress)
    text, failed = write_fleet_report(result, bags, settings, folder)
    print(text)
    print(f"wrote {args.output}/ and {folder}/")
    for bag, reason in failed.items():
        print(f"dense-ood replay: bag {bag} failed: {reason}", file=sys.stderr)
    return 1 if failed else 0


def _fleet_progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="fleet", unit="frame", disable=None)


def _progress(frames, total: int):
    from tqdm import tqdm

    return tqdm(frames, total=total, desc="replay", unit="frame", disable=None)


def _summary(report: dict) -> str:
    from dense_ood_ros.replay.report import markdown

    return markdown(report)
