"""Parameter parsing and validation of the node, without ROS."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from dense_ood_ros.ros.node_config import (
    DYNAMIC_PARAMETERS,
    MODEL_PARAMETER_SPECS,
    PARAMETER_NAMES,
    PARAMETERS,
    NodeConfig,
    NodeConfigError,
    ParameterSpec,
    mounting_problem,
    palette_strings,
    parse_config,
    parse_threshold,
)

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_need_only_a_model() -> None:
    config = parse_config({"model_path": " model.onnx "})
    assert config == NodeConfig(
        model_path="model.onnx",
        backend="auto",
        image_topics=("/camera/image_raw",),
        compressed=False,
        anomaly_threshold=None,
        publish_color=True,
        publish_overlay=True,
        qos="auto",
        output_size="camera",
        engine_cache_dir="",
        engine_precision=None,
        force_engine_rebuild=False,
        enable_obstacles=True,
        obstacle_min_pixels=64,
        obstacle_max_count=32,
        obstacle_max_points=2000,
        camera_height_m=None,
        camera_pitch_rad=0.0,
    )
    # The table's defaults are what the parser falls back to, parameter by parameter.
    explicit = {spec.name: spec.default for spec in PARAMETERS}
    assert parse_config({**explicit, "model_path": "model.onnx"}) == config


#: A valid value other than the default, for every parameter of the table.
OTHER_VALUES = {
    "model_path": "other.onnx",
    "backend": "onnxruntime",
    "engine_cache_dir": "/cache",
    "engine_precision": "fp16",
    "force_engine_rebuild": True,
    "image_topics": ["/a/image_raw", "/b/image_raw"],
    "compressed": True,
    "anomaly_threshold": 0.5,
    "publish_color": False,
    "publish_overlay": False,
    "output_size": "model",
    "qos": "sensor_data",
    "enable_obstacles": False,
    "obstacle_min_pixels": 16,
    "obstacle_max_count": 4,
    "obstacle_max_points": 500,
    "camera_height_m": 1.5,
    "camera_pitch_rad": 0.1,
}


@pytest.mark.parametrize("spec", PARAMETERS, ids=PARAMETER_NAMES)
def test_every_parameter_reaches_its_own_config_field(spec: ParameterSpec) -> None:
    """Each declared parameter feeds the NodeConfig field of its name, and only that one."""
    assert set(OTHER_VALUES) == set(PARAMETER_NAMES)
    assert {f.name for f in dataclasses.fields(NodeConfig)} == set(PARAMETER_NAMES)
    base = parse_config({"model_path": "m.onnx"})
    changed = parse_config({"model_path": "m.onnx", spec.name: OTHER_VALUES[spec.name]})
    differ = [
        f.name
        for f in dataclasses.fields(NodeConfig)
        if getattr(base, f.name) != getattr(changed, f.name)
    ]
    assert differ == [spec.name]


@pytest.mark.parametrize("spec", [s for s in PARAMETERS if s.choices], ids=lambda s: s.name)
def test_choices_of_the_table_are_what_the_parser_accepts(spec: ParameterSpec) -> None:
    for choice in spec.choices:
        parse_config({"model_path": "m.onnx", spec.name: choice})
    with pytest.raises(NodeConfigError, match=f"'{spec.name}' is 'nope'; choose one of"):
        parse_config({"model_path": "m.onnx", spec.name: "nope"})


def test_read_only_and_constraints_of_the_table() -> None:
    specs = {spec.name: spec for spec in (*PARAMETERS, *MODEL_PARAMETER_SPECS)}
    assert {name for name, spec in specs.items() if not spec.read_only} == DYNAMIC_PARAMETERS
    assert all(spec.read_only for spec in MODEL_PARAMETER_SPECS)
    assert specs["qos"].constraints_text() == "one of: auto, sensor_data, reliable"
    assert specs["engine_precision"].constraints_text() == "one of: '', fp32, fp16, int8"
    assert specs["image_topics"].constraints_text().startswith("at least 1 item(s); ")
    assert specs["anomaly_threshold"].dynamic_typing and not specs["qos"].dynamic_typing
    with pytest.raises(ValueError, match="unknown type"):
        ParameterSpec("name", "float", 0.0, "d")


@pytest.mark.parametrize("model", ["test/models/tiny.onnx", "models/camvid_nflowjs.onnx"])
def test_int8_from_a_float_model_is_refused_when_read(model: str) -> None:
    """The node has no calibration frames: int8 needs an INT8 model (or a plan)."""
    path = str(ROOT / model)
    with pytest.raises(NodeConfigError) as info:
        parse_config({"model_path": path, "engine_precision": "int8"})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"parameter 'engine_precision' is int8, but {path} is fp32")
    assert "dense-ood quantize" in message
    # The bundled model (empty model_path) is FP32 too.
    with pytest.raises(NodeConfigError, match=r"is int8, but .* is fp32"):
        parse_config({"engine_precision": " int8 "}, default_model=Path(path))


def test_int8_needs_no_calibration_for_an_int8_model_or_a_plan(tmp_path: Path) -> None:
    int8 = str(ROOT / "models" / "camvid_nflowjs_int8.onnx")
    assert parse_config({"model_path": int8, "engine_precision": "int8"}).engine_precision == (
        "int8"
    )
    plan = parse_config({"model_path": "m.plan", "engine_precision": "int8"})
    assert plan.engine_precision == "int8"  # a plan is already built
    # fp16 of an FP32 ONNX is TensorRT's to judge; a missing model is the loader's to report.
    fp16 = parse_config({"model_path": str(ROOT / "test/models/tiny.onnx"),
                         "engine_precision": "fp16"})  # fmt: skip
    assert fp16.engine_precision == "fp16"
    missing = str(tmp_path / "absent.onnx")
    assert parse_config({"model_path": missing, "engine_precision": "int8"}).engine_precision


def test_full_config() -> None:
    config = parse_config(
        {
            "model_path": "m.onnx",
            "backend": "onnxruntime",
            "image_topics": ["/cam_front/image_raw", "/cam_rear/image_raw"],
            "compressed": True,
            "anomaly_threshold": -2,  # negative scores (msp, maxlogit, energy) are legitimate
            "publish_color": False,
            "publish_overlay": False,
            "qos": "reliable",
            "engine_cache_dir": " /var/cache/dense_ood ",
            "engine_precision": "fp16",
            "force_engine_rebuild": True,
        }
    )
    assert (config.engine_cache_dir, config.engine_precision) == ("/var/cache/dense_ood", "fp16")
    assert config.force_engine_rebuild is True
    assert config.image_topics == ("/cam_front/image_raw", "/cam_rear/image_raw")
    assert config.anomaly_threshold == -2.0
    assert isinstance(config.anomaly_threshold, float)
    assert (config.compressed, config.publish_color, config.qos) == (True, False, "reliable")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model_path": 3}, "'model_path' must be a string"),
        ({"backend": "cuda"}, "'backend' is 'cuda'; choose one of auto \\| onnxruntime"),
        ({"qos": "best_effort"}, "choose one of auto \\| sensor_data \\| reliable"),
        ({"engine_precision": "int4"}, "'engine_precision' is 'int4'; choose one of '' \\| fp32"),
        ({"force_engine_rebuild": "yes"}, "'force_engine_rebuild' must be true or false"),
        ({"output_size": "half"}, "choose one of camera \\| model"),
        ({"image_topics": []}, "'image_topics' is empty"),
        ({"image_topics": None}, "'image_topics' is empty"),
        ({"image_topics": "/camera/image_raw"}, "must be a list"),
        ({"image_topics": ["/cam/"]}, "not a valid topic name"),
        ({"image_topics": ["/a/image_raw", "/a/image_rect"]}, "both publish under '/a/dense_ood'"),
        ({"compressed": "yes"}, "'compressed' must be true or false"),
        ({"anomaly_threshold": "high"}, "must be a number"),
        ({"anomaly_threshold": True}, "must be a number"),
        ({"anomaly_threshold": math.inf}, "must be finite"),
        ({"enable_obstacles": 1}, "'enable_obstacles' must be true or false"),
        ({"obstacle_min_pixels": 0}, "'obstacle_min_pixels' must be at least 1, got 0"),
        ({"obstacle_max_count": -3}, "'obstacle_max_count' must be at least 1, got -3"),
        ({"obstacle_max_points": 0}, "'obstacle_max_points' must be at least 1"),
        ({"obstacle_max_points": True}, "'obstacle_max_points' must be an integer, got True"),
        ({"obstacle_min_pixels": 64.0}, "'obstacle_min_pixels' must be an integer, got 64.0"),
        ({"camera_height_m": "1.5"}, "'camera_height_m' must be a number"),
        ({"camera_pitch_rad": False}, "'camera_pitch_rad' must be a number"),
    ],
)
def test_bad_values_name_the_parameter(values: dict, message: str) -> None:
    with pytest.raises(NodeConfigError, match=message):
        parse_config({"model_path": "m.onnx", **values})


@pytest.mark.parametrize("values", [{}, {"model_path": ""}, {"model_path": "  "}])
def test_model_path_is_required_without_a_bundled_model(values: dict) -> None:
    with pytest.raises(NodeConfigError, match="'model_path' is required"):
        parse_config(values, default_model=None)


@pytest.mark.parametrize("values", [{}, {"model_path": ""}])
def test_empty_model_path_means_the_bundled_model(values: dict) -> None:
    bundled = Path("/opt/share/dense_ood_ros/models/camvid_nflowjs.onnx")
    assert parse_config(values, default_model=bundled).model_path == str(bundled)
    explicit = parse_config({"model_path": "m.onnx"}, default_model=bundled)
    assert explicit.model_path == "m.onnx"


def test_threshold_nan_means_model_threshold() -> None:
    assert parse_threshold(math.nan) is None
    assert parse_threshold(None) is None
    assert parse_threshold(0.25) == 0.25
    assert parse_threshold(0) == 0.0


def test_palette_parameter_is_hex_rgb() -> None:
    palette = np.array([[128, 64, 128], [0, 0, 142], [255, 255, 0]], dtype=np.uint8)
    assert palette_strings(palette) == ["#804080", "#00008e", "#ffff00"]


def test_camera_mounting_values_the_node_serves_without_positions() -> None:
    """A bad mounting is not a start-up error: the node serves, obstacles without positions,
    and `mounting_problem` is the one line it logs."""

    def problem(**values: float) -> str | None:
        return mounting_problem(parse_config({"model_path": "m.onnx", **values}))

    assert problem() == (
        "parameter 'camera_height_m' is .nan (unknown): set it (and camera_pitch_rad) to place "
        "them on the ground"
    )
    assert problem(camera_height_m=1.5) is None
    assert problem(camera_height_m=2, camera_pitch_rad=-0.3) is None  # YAML integers too
    assert parse_config({"model_path": "m", "camera_height_m": 2}).camera_height_m == 2.0
    for height in (-1.5, 0.0, math.inf):
        text = problem(camera_height_m=height)
        assert text is not None and "'camera_height_m'" in text and "must be > 0 m" in text
    for pitch in (math.pi / 2, -2.0, math.nan):
        text = problem(camera_height_m=1.5, camera_pitch_rad=pitch)
        assert text is not None and "'camera_pitch_rad'" in text and "(-pi/2, pi/2)" in text
