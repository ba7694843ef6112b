"""The node's parameters: names, defaults, descriptions and validation (ROS-free).

The node declares exactly PARAMETERS (plus the read-only MODEL_PARAMETERS it fills from the
model) and parses their values with `parse_config`, so a bad parameter file fails with one clear
line before anything heavy is loaded. config/dense_ood.yaml lists the same names (a test checks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.engine import BACKENDS
from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.model.contract import PRECISIONS
from dense_ood_ros.pipeline.frame_pipeline import OUTPUT_SIZES
from dense_ood_ros.ros.topics import TopicError, check_distinct_outputs, validate_topic

QOS_PROFILES = ("auto", "sensor_data", "reliable")


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter. `dynamic`: may be changed at run time (`ros2 param set`)."""

    name: str
    default: Any
    description: str
    dynamic: bool = False


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "model_path",
        "",
        "Contract-1 model: an .onnx file, or a TensorRT plan with its <plan>.json metadata. "
        "Empty: the bundled model (models/camvid_nflowjs.onnx).",
    ),
    ParameterSpec(
        "backend",
        "auto",
        "Inference backend: auto (TensorRT where it imports and a GPU is present, else ONNX "
        "Runtime with a warning) | onnxruntime | tensorrt.",
    ),
    ParameterSpec(
        "engine_cache_dir",
        "",
        "TensorRT: folder for plans built from an ONNX model_path; empty = beside the ONNX.",
    ),
    ParameterSpec(
        "engine_precision",
        "",
        "TensorRT: precision of a plan built from an ONNX: fp32 | fp16 | int8; empty = the "
        "ONNX's own (TensorRT 11 takes only that).",
    ),
    ParameterSpec(
        "force_engine_rebuild",
        False,
        "TensorRT: rebuild the plan at start even when the cached one matches this machine.",
    ),
    ParameterSpec(
        "image_topics",
        ["/camera/image_raw"],
        "Camera topics (sensor_msgs/Image); outputs go to <ns>/dense_ood/ of each.",
    ),
    ParameterSpec(
        "compressed",
        False,
        "Subscribe to sensor_msgs/CompressedImage on <topic>/compressed instead of <topic>.",
    ),
    ParameterSpec(
        "anomaly_threshold",
        math.nan,
        "Score at or above which a pixel is anomalous; .nan = the model's own threshold.",
        dynamic=True,
    ),
    ParameterSpec(
        "publish_color",
        True,
        "Publish semantic_color (rendered only while someone subscribes).",
        dynamic=True,
    ),
    ParameterSpec(
        "publish_overlay",
        True,
        "Publish overlay (rendered only while someone subscribes).",
        dynamic=True,
    ),
    ParameterSpec(
        "output_size",
        "camera",
        "Size of the outputs: camera (the input's) | model (the model's input size, which saves "
        "bandwidth and full-resolution post-processing).",
    ),
    ParameterSpec(
        "qos",
        "auto",
        "QoS: auto (inputs follow the camera publishers' reliability, outputs reliable) | "
        "sensor_data (best effort) | reliable.",
    ),
)

#: Read-only parameters the node sets from the model's contract.
MODEL_PARAMETERS: dict[str, str] = {
    "class_names": "Class name of each trainId (index = value in semantic), from the model.",
    "palette": "Colour of each trainId as '#rrggbb' (index = value in semantic), from the model.",
}

PARAMETER_NAMES: tuple[str, ...] = tuple(spec.name for spec in PARAMETERS)
DYNAMIC_PARAMETERS: frozenset[str] = frozenset(spec.name for spec in PARAMETERS if spec.dynamic)


class NodeConfigError(DenseOodError, ValueError):
    """A parameter value the node cannot run with; the message names the parameter."""


@dataclass(frozen=True)
class NodeConfig:
    """Validated parameter values."""

    model_path: str
    backend: str
    image_topics: tuple[str, ...]
    compressed: bool
    anomaly_threshold: float | None  # None: the model's threshold
    publish_color: bool
    publish_overlay: bool
    qos: str
    output_size: str = "camera"
    engine_cache_dir: str = ""
    engine_precision: str | None = None  # None: the ONNX's own
    force_engine_rebuild: bool = False


def parse_config(values: Mapping[str, Any], default_model: Path | None = None) -> NodeConfig:
    """Validate parameter values (missing names take their defaults); raise NodeConfigError.

    An empty `model_path` means `default_model` (the bundled demo model, where it is shipped).
    """
    get = {spec.name: values.get(spec.name, spec.default) for spec in PARAMETERS}
    model_path = _string(get, "model_path").strip() or str(default_model or "")
    if not model_path:
        raise NodeConfigError(
            "parameter 'model_path' is required (path to a contract-1 .onnx model)"
        )
    return NodeConfig(
        model_path=model_path,
        backend=_choice(get, "backend", BACKENDS),
        image_topics=parse_image_topics(get["image_topics"]),
        compressed=_bool(get, "compressed"),
        anomaly_threshold=parse_threshold(get["anomaly_threshold"]),
        publish_color=_bool(get, "publish_color"),
        publish_overlay=_bool(get, "publish_overlay"),
        qos=_choice(get, "qos", QOS_PROFILES),
        output_size=_choice(get, "output_size", OUTPUT_SIZES),
        engine_cache_dir=_string(get, "engine_cache_dir").strip(),
        engine_precision=_choice(get, "engine_precision", ("", *PRECISIONS)) or None,
        force_engine_rebuild=_bool(get, "force_engine_rebuild"),
    )


def parse_image_topics(value: Any) -> tuple[str, ...]:
    """A non-empty list of distinct, valid topic names whose outputs do not collide."""
    if value is None:  # what rclpy hands over for `image_topics: []` in a parameter file
        value = []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise NodeConfigError("parameter 'image_topics' must be a list of topic names")
    value = [topic for topic in value if str(topic).strip()]  # launch passes [] as ['']
    if not value:
        raise NodeConfigError("parameter 'image_topics' is empty: give at least one camera topic")
    try:
        topics = tuple(validate_topic(str(topic)) for topic in value)
        check_distinct_outputs(topics)
    except TopicError as exc:
        raise NodeConfigError(f"parameter 'image_topics': {exc}") from exc
    return topics


def parse_threshold(value: Any) -> float | None:
    """A finite number, or None for NaN / None (use the model's threshold)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NodeConfigError(f"parameter 'anomaly_threshold' must be a number, got {value!r}")
    if math.isnan(value):
        return None
    if math.isinf(value):
        raise NodeConfigError(
            "parameter 'anomaly_threshold' must be finite (or .nan for the model's)"
        )
    return float(value)


def palette_strings(palette: np.ndarray) -> list[str]:
    """[K, 3] RGB rows -> ['#rrggbb', ...], the `palette` parameter's form."""
    rows = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    return ["#{:02x}{:02x}{:02x}".format(*(int(c) for c in row)) for row in rows]


def palette_from_strings(colours: Sequence[str]) -> np.ndarray:
    """Inverse of `palette_strings` (for clients reading the parameter)."""
    try:
        rows = [[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours if len(c) == 7]
    except ValueError:
        rows = []
    if len(rows) != len(colours) or any(not c.startswith("#") for c in colours):
        raise NodeConfigError(f"palette entries must look like '#rrggbb', got {list(colours)!r}")
    return np.asarray(rows, dtype=np.uint8).reshape(-1, 3)


def _string(values: Mapping[str, Any], name: str) -> str:
    value = values[name]
    if not isinstance(value, str):
        raise NodeConfigError(f"parameter {name!r} must be a string, got {value!r}")
    return value


def _bool(values: Mapping[str, Any], name: str) -> bool:
    value = values[name]
    if not isinstance(value, bool):
        raise NodeConfigError(f"parameter {name!r} must be true or false, got {value!r}")
    return value


def _choice(values: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    value = _string(values, name).strip()
    if value not in choices:
        raise NodeConfigError(
            f"parameter {name!r} is {value!r}; choose one of "
            f"{' | '.join(choice or repr(choice) for choice in choices)}"
        )
    return value
