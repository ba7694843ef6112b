"""The parameter file, the RViz config and the installed package layout that launch needs.

The launch files themselves run through the real `ros2 launch` in test_launch_ros2.py.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import yaml

from dense_ood_ros.ros.node_config import MODEL_PARAMETERS, PARAMETERS, parse_config

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "config" / "dense_ood.yaml"
RVIZ = ROOT / "config" / "dense_ood.rviz"


def test_launch_argument_overrides() -> None:
    from dense_ood_ros.ros.launch_parts import parameter_overrides

    assert parameter_overrides("", "") == {}
    both = parameter_overrides("m.onnx", "['/a/image_raw', '/b/image_raw']")
    assert both == {"model_path": "m.onnx", "image_topics": ["/a/image_raw", "/b/image_raw"]}
    assert parameter_overrides("", "/a/image_raw") == {"image_topics": ["/a/image_raw"]}
    # bad values reach the node as strings, for its own message
    assert parameter_overrides("", "[]") == {"image_topics": [""]}
    assert parameter_overrides("", "5") == {"image_topics": ["5"]}
    assert parameter_overrides("", "[/a") == {"image_topics": ["[/a"]}


def test_rviz_config_follows_the_first_camera(tmp_path: Path) -> None:
    from dense_ood_ros.ros.launch_parts import first_camera, rviz_config_for

    shipped = RVIZ.read_text()
    moved = yaml.safe_load(rviz_config_for("/cam_front/image_raw", shipped))
    displays = moved["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if d["Class"] == "rviz_default_plugins/Image"}
    assert topics == {f"/cam_front/dense_ood/{name}" for name in
                      ("overlay", "semantic_color", "anomaly_mask")}  # fmt: skip
    assert first_camera(str(PARAMS), {}) == ("/camera/image_raw", None)
    rear = first_camera(str(PARAMS), {"image_topics": ["/rear/image_raw"]})
    assert rear == ("/rear/image_raw", None)


def test_first_camera_says_why_it_falls_back_to_the_default(tmp_path: Path) -> None:
    from dense_ood_ros.ros.launch_parts import DEFAULT_CAMERA, first_camera

    absent = tmp_path / "absent.yaml"
    assert first_camera(str(absent), {}) == (
        DEFAULT_CAMERA,
        f"{absent} is unreadable (FileNotFoundError)",
    )
    no_cameras = tmp_path / "params.yaml"
    for content in ({"/**": {"ros__parameters": {"model_path": "m.onnx"}}},
                    {"/**": {"ros__parameters": {"image_topics": []}}}):  # fmt: skip
        no_cameras.write_text(yaml.safe_dump(content))
        camera, why = first_camera(str(no_cameras), {})
        assert camera == DEFAULT_CAMERA and why is not None and "names no camera" in why
    # an empty launch argument (launch_parts hands it on as [""]) wins over the file's cameras
    assert first_camera(str(PARAMS), {"image_topics": [""]}) == (
        DEFAULT_CAMERA,
        "the image_topics argument is empty",
    )


def test_param_file_names_exactly_the_declared_parameters() -> None:
    content = yaml.safe_load(PARAMS.read_text())
    assert list(content) == ["/**"]
    params = content["/**"]["ros__parameters"]
    assert set(params) == {spec.name for spec in PARAMETERS}
    assert not set(params) & set(MODEL_PARAMETERS)  # read-only ones come from the model
    # The shipped defaults are the node's defaults (model_path aside) and parse cleanly.
    for spec in PARAMETERS:
        if isinstance(spec.default, float) and math.isnan(spec.default):
            assert math.isnan(params[spec.name]), spec.name  # .nan: the model's, unknown
        elif spec.name != "model_path":
            assert params[spec.name] == spec.default, spec.name
    config = parse_config({**params, "model_path": "model.onnx"})
    assert config.anomaly_threshold is None
    # Every parameter is documented by a comment in the file.
    lines = PARAMS.read_text().splitlines()
    for spec in PARAMETERS:
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(spec.name + ":"))
        assert lines[index - 1].strip().startswith("#"), spec.name


def test_colcon_style_install_puts_what_launch_needs_in_share(tmp_path: Path) -> None:
    """Installed the way colcon installs an ament_python package, the share directory holds
    the launch file, parameters, RViz config, models and sample frames, and lib/ the node."""
    from node_harness import colcon_style_install

    prefix = colcon_style_install(tmp_path)
    share = prefix / "share" / "dense_ood_ros"
    for relative in (
        "package.xml",
        "launch/dense_ood.launch.py",
        "launch/replay.launch.py",
        "config/dense_ood.yaml",
        "config/dense_ood.rviz",
        "models/camvid_nflowjs.onnx",
    ):
        assert (share / relative).is_file(), relative
    assert sorted(share.glob("data/samples/*.jpg"))
    assert (prefix / "lib" / "dense_ood_ros" / "dense_ood_node").is_file()  # ros2 run finds it
    marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / "dense_ood_ros"
    assert marker.is_file()


def test_rviz_config_shows_the_three_outputs_of_the_default_camera() -> None:
    config = yaml.safe_load(RVIZ.read_text())
    displays = config["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if d["Class"] == "rviz_default_plugins/Image"}
    assert topics == {
        "/camera/dense_ood/overlay",
        "/camera/dense_ood/semantic_color",
        "/camera/dense_ood/anomaly_mask",
    }
    # The node's default QoS is sensor_data (best effort): a reliable display would see nothing.
    assert {d["Topic"]["Reliability Policy"] for d in displays} == {"Best Effort"}


def test_rviz_config_shows_the_anomaly_obstacles_and_their_points() -> None:
    from dense_ood_ros.ros.launch_parts import rviz_config_for
    from dense_ood_ros.topics import obstacle_topics

    def shown(config: str) -> dict[str, str]:
        displays = yaml.safe_load(config)["Visualization Manager"]["Displays"]
        return {d["Class"]: d["Topic"]["Value"] for d in displays
                if d["Class"].endswith(("/MarkerArray", "/PointCloud2"))}  # fmt: skip

    for camera in ("/camera/image_raw", "/cam_front/image_raw"):  # launch moves them along
        topics = obstacle_topics(camera)
        assert shown(rviz_config_for(camera, RVIZ.read_text())) == {
            "rviz_default_plugins/MarkerArray": topics["anomaly_obstacles"],
            "rviz_default_plugins/PointCloud2": topics["anomaly_points"],
        }


def test_rviz_action_logs_the_fall_back_to_the_default_camera(tmp_path: Path, monkeypatch) -> None:
    launch = pytest.importorskip("launch")
    from launch.actions import LogInfo

    from dense_ood_ros.ros.launch_parts import rviz_action

    share = tmp_path / "share"
    (share / "config").mkdir(parents=True)
    (share / "config" / "dense_ood.rviz").write_text(RVIZ.read_text())
    bin_dir = tmp_path / "bin"  # an rviz2 on PATH, so the action gets as far as the camera
    bin_dir.mkdir()
    (bin_dir / "rviz2").write_text("#!/bin/sh\n")
    (bin_dir / "rviz2").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"model_path": "m.onnx"}}}))

    def performed(**arguments: str) -> list:
        context = launch.LaunchContext()
        values = {"use_rviz": "true", "model_path": "", "image_topics": "", **arguments}
        for name, value in values.items():
            context.launch_configurations[name] = value
        return rviz_action(str(share)).execute(context) or []

    notes = [a for a in performed(params_file=str(params)) if isinstance(a, LogInfo)]
    assert len(notes) == 1
    text = "".join(part.perform(launch.LaunchContext()) for part in notes[0].msg)
    assert text.startswith("[WARN] RViz shows the default camera /camera/image_raw: ")
    assert "names no camera" in text
    named = performed(params_file=str(params), image_topics="['/rear/image_raw']")
    assert not [a for a in named if isinstance(a, LogInfo)]
