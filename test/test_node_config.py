"""Parameter parsing and validation of the node, without ROS."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dense_ood_ros.ros.node_config import (
    PARAMETER_NAMES,
    NodeConfig,
    NodeConfigError,
    palette_from_strings,
    palette_strings,
    parse_config,
    parse_threshold,
)


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
    )
    assert PARAMETER_NAMES == (
        "model_path",
        "backend",
        "engine_cache_dir",
        "engine_precision",
        "force_engine_rebuild",
        "image_topics",
        "compressed",
        "anomaly_threshold",
        "publish_color",
        "publish_overlay",
        "output_size",
        "qos",
    )


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


def test_palette_parameter_round_trip() -> None:
    palette = np.array([[128, 64, 128], [0, 0, 142], [255, 255, 0]], dtype=np.uint8)
    strings = palette_strings(palette)
    assert strings == ["#804080", "#00008e", "#ffff00"]
    np.testing.assert_array_equal(palette_from_strings(strings), palette)
    for bad in (["804080"], ["#80408"], ["#zz4080"]):
        with pytest.raises(ValueError, match="#rrggbb"):
            palette_from_strings(bad)
