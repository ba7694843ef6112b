"""Obstacles in `dense-ood replay`: on a bag with known anomaly components (an engine that flags
red pixels), the report's recall and false obstacles per frame, by distance band with a
CameraInfo in the bag and a mounting height; the fleet's pooling of obstacle counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_replay import IMAGE, Msg, image_fields, read_bag, replay, write_bag

from dense_ood_ros.engine.base import Engine, EngineOutputs
from dense_ood_ros.metrics.obstacle_metrics import ObstacleCounts
from dense_ood_ros.model.contract import ModelContract
from dense_ood_ros.pipeline.frame_pipeline import Pipeline
from dense_ood_ros.replay.report import markdown, report_dict
from dense_ood_ros.replay.session import ReplayOptions, ReplaySession

CAMERA_HW, MODEL_HW = (128, 192), (64, 96)
T0 = 1_700_000_000
# fx = fy = 100 px, horizon at row 40; the camera 1.5 m above flat ground, level
K = [100.0, 0.0, 95.5, 0.0, 100.0, 40.0, 0.0, 0.0, 1.0]
HEIGHT_M = 1.5
# (rows, columns) in camera pixels; A: red and labelled, ~2 m ahead; B: red, not labelled,
# ~43 m ahead; C: labelled, not red (missed), ~16 m ahead
A = (slice(80, 112), slice(20, 60))
B = (slice(20, 44), slice(80, 120))
C = (slice(36, 50), slice(130, 170))


class RedEngine(Engine):
    """Flags red pixels: score 1 where the model input is red, else 0; every pixel 'road'."""

    backend_name = "red"

    def __init__(self) -> None:
        palette = np.array([[128, 64, 128], [0, 0, 142]], np.uint8)
        self.contract = ModelContract(("road", "car"), palette, "jsd", 0.5, MODEL_HW)

    def infer(self, images: np.ndarray, extra_scores: bool = True) -> EngineOutputs:
        red = (images[..., 0] > 180) & (images[..., 1] < 80) & (images[..., 2] < 80)
        return EngineOutputs(np.zeros(red.shape, np.uint8), red.astype(np.float32))


def _frame() -> np.ndarray:
    rgb = np.full((*CAMERA_HW, 3), 100, np.uint8)
    for rows, cols in (A, B):
        rgb[rows, cols] = (255, 0, 0)
    return rgb


def _label() -> np.ndarray:
    label = np.zeros(CAMERA_HW, np.uint8)
    for rows, cols in (A, C):
        label[rows, cols] = 1
    return label


def _camera_info(stamp: int) -> Msg:
    from rosbags.typesys import Stores, get_typestore

    roi = get_typestore(Stores.ROS2_HUMBLE).types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    fields = {
        "stamp_ns": stamp, "height": CAMERA_HW[0], "width": CAMERA_HW[1],
        "distortion_model": "plumb_bob", "d": np.zeros(5), "k": np.array(K),
        "r": np.eye(3).ravel(), "p": np.array([*K[:3], 0, *K[3:6], 0, *K[6:], 0]),
        "binning_x": 0, "binning_y": 0, "roi": roi,
    }  # fmt: skip
    return Msg("/cam/camera_info", "sensor_msgs/msg/CameraInfo", stamp, fields)


def _bag(path: Path, frames: int = 2, camera_info: bool = True) -> Path:
    msgs = []
    for i in range(frames):
        stamp = (T0 + i) * 10**9
        msgs.append(Msg("/cam/image_raw", IMAGE, stamp, image_fields(_frame(), "rgb8", stamp)))
        msgs.append(Msg("/cam/labels", IMAGE, stamp, image_fields(_label(), "mono8", stamp)))
    if camera_info:
        msgs.insert(0, _camera_info(T0 * 10**9))
    return write_bag(path, msgs)


def _replay(bag: Path, out: Path, height_m: float | None) -> dict:
    pipeline = Pipeline(RedEngine(), obstacles=ReplayOptions([], out).obstacle_settings())
    options = ReplayOptions([bag], out, labels_topic="/cam/labels", camera_height_m=height_m)
    session = ReplaySession(pipeline, options)
    session.check()
    result = session.run()
    assert result.error is None and result.labelled == 2
    return report_dict(result, [str(bag)], str(out), "red")


def test_recall_false_obstacles_and_distance_bands(tmp_path: Path) -> None:
    report = _replay(_bag(tmp_path / "in"), tmp_path / "out", HEIGHT_M)
    section = report["obstacles"]
    assert (section["frames"], section["obstacles"], section["with_position"]) == (2, 4, 4)
    assert section["geometry"]["/cam/image_raw"]["positions"] is True
    m = section["metrics"]
    # per frame: A found, C missed, B false
    assert (m["frames"], m["gt_components"], m["found"], m["recall"]) == (2, 4, 2, 0.5)
    assert (m["obstacles"], m["false_obstacles"], m["false_per_frame"]) == (4, 2, 1.0)
    bands = m["by_distance"]
    assert (bands["<10 m"]["found"], bands["<10 m"]["recall"]) == (2, 1.0)  # A, ~2.1 m
    assert bands["<10 m"]["obstacles"] == 2 and bands["<10 m"]["false_obstacles"] == 0
    assert (bands["10-20 m"]["gt_components"], bands["10-20 m"]["recall"]) == (2, 0.0)  # C
    assert bands[">=40 m"]["false_obstacles"] == 2 and bands[">=40 m"]["false_per_frame"] == 1.0
    assert bands["unknown"]["gt_components"] == bands["unknown"]["obstacles"] == 0
    assert "obstacles" in report["stages_ms"] and "place" in report["stages_ms"]
    text = markdown(report)
    assert "| all | 4 | 2 | 50.00 | 4 | 2 | 1.000 |" in text
    assert "| >=40 m | 0 | 0 | n/a | 2 | 2 | 1.000 |" in text
    assert "/cam/image_raw: positions from /cam/camera_info (192x128)" in text
    # the output bag has the node's obstacle topics, built by its own builders
    written = read_bag(tmp_path / "out")
    markers = written["/cam/dense_ood/anomaly_obstacles"]
    clouds = written["/cam/dense_ood/anomaly_points"]
    assert len(markers) == len(clouds) == 2
    for (_, array), (_, cloud) in zip(markers, clouds, strict=True):
        assert [m.action for m in array.markers] == [3, 0, 0, 0, 0]  # DELETEALL, 2 x (box, text)
        assert (array.markers[1].ns, array.markers[1].type) == ("anomaly_obstacles", 1)
        assert cloud.header.stamp.sec >= T0 and cloud.point_step == 16 and cloud.width > 0
        xyz = np.frombuffer(bytes(cloud.data), "<f4").reshape(-1, 4)[:, :3]
        np.testing.assert_allclose(xyz[:, 1], HEIGHT_M, atol=1e-5)  # on the ground, level
        assert xyz[:, 2].min() > 1.5 and xyz[:, 2].max() > 40  # A at ~2 m, B at ~43 m


def test_without_geometry_everything_is_unknown(tmp_path: Path) -> None:
    for name, camera_info, height in (("no_info", False, HEIGHT_M), ("no_height", True, None)):
        report = _replay(_bag(tmp_path / name, camera_info=camera_info), tmp_path / f"o{name}",
                         height)  # fmt: skip
        section = report["obstacles"]
        assert section["with_position"] == 0
        m = section["metrics"]
        assert (m["recall"], m["false_per_frame"]) == (0.5, 1.0)
        assert m["by_distance"]["unknown"]["gt_components"] == 4
        note = section["geometry"]["/cam/image_raw"]
        assert note["positions"] is False
        assert ("no sensor_msgs/CameraInfo" if name == "no_info" else "--camera-height-m") in (
            note["source"]
        )


def test_replay_command_reports_obstacles_and_checks_the_mounting(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bag = _bag(tmp_path / "in")
    args = [str(bag), "--model", str(tiny_model), "--labels-topic", "/cam/labels"]
    report = tmp_path / "report"
    assert replay(*args, "--output", str(tmp_path / "out"), "--report", str(report),
                  "--camera-height-m", "1.5", "--camera-pitch-rad", "0.02") == 0  # fmt: skip
    section = json.loads((report / "report.json").read_text())["obstacles"]
    assert section["settings"] == {"min_pixels": 64, "max_count": 32, "opening_px": 3}
    assert section["frames"] == 2 and section["metrics"]["frames"] == 2
    assert (
        "1.5 m above the ground, pitched down 0.02 rad"
        in section["geometry"]["/cam/image_raw"]["source"]
    )
    assert "Obstacles (min_pixels 64" in (report / "report.md").read_text()
    images = ("semantic", "semantic_color", "anomaly_score", "anomaly_mask", "overlay")
    obstacles = ("anomaly_obstacles", "anomaly_points")
    assert sorted(read_bag(tmp_path / "out")) == sorted(
        f"/cam/dense_ood/{name}" for name in (*images, *obstacles)
    )
    off = tmp_path / "report_off"
    assert replay(*args, "--output", str(tmp_path / "off"), "--report", str(off),
                  "--no-obstacles") == 0  # fmt: skip
    assert json.loads((off / "report.json").read_text())["obstacles"] is None
    assert sorted(read_bag(tmp_path / "off")) == sorted(f"/cam/dense_ood/{n}" for n in images)
    assert "Obstacles: not extracted" in (off / "report.md").read_text()
    capsys.readouterr()
    for option, value in (("--camera-height-m", "-1"), ("--camera-pitch-rad", "2")):
        assert replay(*args, "--output", str(tmp_path / "bad"), option, value) == 2
        err = capsys.readouterr().err
        assert option in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def test_fleet_pooling_sums_obstacle_counts(tmp_path: Path) -> None:
    """Two bags' outcomes (as fleet workers return them) pool into the counts of one replay."""
    from dense_ood_ros.replay.fleet.cluster import FleetResult
    from dense_ood_ros.replay.fleet.outcome import BagOutcome
    from dense_ood_ros.replay.fleet.pooling import pool
    from dense_ood_ros.replay.fleet.report import fleet_lines, fleet_section
    from dense_ood_ros.replay.inputs import InputBag

    settings = ReplayOptions([], tmp_path).obstacle_settings()
    pipeline = Pipeline(RedEngine(), obstacles=settings)
    outcomes, results = [], []
    for name, height in (("near", HEIGHT_M), ("blind", None)):
        bag = _bag(tmp_path / name, frames=2 if name == "near" else 3)
        options = ReplayOptions([bag], tmp_path / f"out_{name}", labels_topic="/cam/labels",
                                camera_height_m=height)  # fmt: skip
        session = ReplaySession(pipeline, options)
        session.check()
        result = session.run()
        results.append(result)
        from pathlib import PurePosixPath

        outcome = BagOutcome.of(InputBag(bag, PurePosixPath(name)), tmp_path / "fleet")
        outcomes.append(outcome.with_result(result, _empty_summary()))
    # a marker's JSON round trip keeps the counts
    outcomes[1] = BagOutcome(**{**json.loads(json.dumps(outcomes[1].record())), "status": "done"})
    pooled, _ = pool(outcomes, wall_s=1.0)
    assert pooled.obstacle_frames == 5 and pooled.obstacles_seen == 10
    assert pooled.obstacles_placed == 4  # only the bag with a height has positions
    expected = ObstacleCounts()
    for result in results:
        assert result.obstacle_counts is not None
        expected = expected.merge(result.obstacle_counts)
    assert pooled.obstacle_counts is not None
    assert pooled.obstacle_counts.to_dict() == expected.to_dict()
    m = report_dict(pooled, [], "", "red")["obstacles"]["metrics"]
    assert (m["frames"], m["recall"], m["false_per_frame"]) == (5, 0.5, 1.0)
    assert m["by_distance"]["unknown"]["gt_components"] == 6  # the blind bag's 3 frames x 2
    assert pooled.geometry["/cam/image_raw"]["positions"] is True
    section = fleet_section(FleetResult(outcomes, pooled, None, 1.0, 2))
    assert [r["obstacle_recall"] for r in section["per_bag"]] == [0.5, 0.5]
    assert [r["false_obstacles_per_frame"] for r in section["per_bag"]] == [1.0, 1.0]
    assert "| 4 | 50.00 | 1.000 |" in "\n".join(fleet_lines({**section, "failed": {}}))


def _empty_summary():
    from dense_ood_ros.metrics.summary import ScoreSummary

    return ScoreSummary(["jsd"], 0.5)
