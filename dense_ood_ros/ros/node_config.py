"""The node's parameters: one table (type, default, description, choices, read-only) and
their validation, ROS-free.

The node declares its descriptors from PARAMETERS and MODEL_PARAMETER_SPECS and parses the
values with `parse_config`, so a bad parameter file fails with one clear line before anything
heavy is loaded. config/dense_ood.yaml, its JSON schema and the parameter tables of README.md
and docs/node.md are generated from the same table (`python -m dense_ood_ros.ros.param_docs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.engine import BACKENDS
from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.model.contract import (
    PRECISIONS,
    ContractError,
    precision_of,
    read_onnx_metadata,
)
from dense_ood_ros.model.plan_file import is_plan_file
from dense_ood_ros.pipeline.frame_pipeline import OUTPUT_SIZES
from dense_ood_ros.topics import TopicError, check_distinct_outputs, validate_topic

QOS_PROFILES = ("auto", "sensor_data", "reliable")
#: Parameter types, as the docs name them (rclpy's: string, bool, double, integer, string_array).
TYPES = ("string", "bool", "double", "integer", "string[]")


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter. `dynamic`: may be changed at run time (`ros2 param set`), else
    read-only once declared; `from_model`: set by the node from the model, not from a file."""

    name: str
    type: str  # one of TYPES
    default: Any  # None for the parameters set from the model
    description: str
    choices: tuple[str, ...] = ()
    min_items: int = 0  # string[]: the fewest entries the node runs with
    constraint: str = ""  # what else the node checks, in words
    dynamic: bool = False
    from_model: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"parameter {self.name!r}: unknown type {self.type!r}")

    @property
    def read_only(self) -> bool:
        """Read once at start (or set from the model): `ros2 param set` is refused."""
        return not self.dynamic

    @property
    def dynamic_typing(self) -> bool:
        """Doubles also take integers, as YAML writes `0` or `-3`."""
        return self.type == "double"

    def constraints_text(self) -> str:
        """The constraints in words: the descriptor's `additional_constraints`."""
        parts = []
        if self.choices:
            parts.append("one of: " + ", ".join(choice or "''" for choice in self.choices))
        if self.min_items:
            parts.append(f"at least {self.min_items} item(s)")
        if self.constraint:
            parts.append(self.constraint)
        return "; ".join(parts)


_SPEC, _PARSE = "spec", "parse"  # where a NodeConfig field keeps its table row and parser


def _parameter(
    type: str,
    default: Any,
    description: str,
    parse: Callable[[ParameterSpec, Any], Any],
    **options: Any,
) -> Any:
    """A NodeConfig field that is also a declared parameter: its row of the table (the name is
    the field's) and the parser that turns the declared value into the field's."""
    spec = ParameterSpec("", type, default, description, **options)
    return field(metadata={_SPEC: spec, _PARSE: parse})


def _string(spec: ParameterSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise NodeConfigError(f"parameter {spec.name!r} must be a string, got {value!r}")
    return value


def _stripped(spec: ParameterSpec, value: Any) -> str:
    return _string(spec, value).strip()


def _bool(spec: ParameterSpec, value: Any) -> bool:
    if not isinstance(value, bool):
        raise NodeConfigError(f"parameter {spec.name!r} must be true or false, got {value!r}")
    return value


def _integer(spec: ParameterSpec, value: Any) -> int:
    """An integer (not a bool, which Python counts as one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NodeConfigError(f"parameter {spec.name!r} must be an integer, got {value!r}")
    return value


def _count(spec: ParameterSpec, value: Any) -> int:
    """An integer of at least 1."""
    number = _integer(spec, value)
    if number < 1:
        raise NodeConfigError(f"parameter {spec.name!r} must be at least 1, got {number}")
    return number


def _double(spec: ParameterSpec, value: Any) -> float:
    """Any number (YAML's integers too; not a bool); NaN and infinities pass, for the caller to
    judge (see `mounting_problem`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NodeConfigError(f"parameter {spec.name!r} must be a number, got {value!r}")
    return float(value)


def _double_or_unknown(spec: ParameterSpec, value: Any) -> float | None:
    """A number, or None for NaN (unknown)."""
    number = _double(spec, value)
    return None if math.isnan(number) else number


def _choice(spec: ParameterSpec, value: Any) -> str:
    value = _stripped(spec, value)
    if value not in spec.choices:
        raise NodeConfigError(
            f"parameter {spec.name!r} is {value!r}; choose one of "
            f"{' | '.join(choice or repr(choice) for choice in spec.choices)}"
        )
    return value


def _choice_or_none(spec: ParameterSpec, value: Any) -> str | None:
    """A choice where the empty one means "none given" (None)."""
    return _choice(spec, value) or None


def _image_topics(spec: ParameterSpec, value: Any) -> tuple[str, ...]:
    return parse_image_topics(value)


def _threshold(spec: ParameterSpec, value: Any) -> float | None:
    return parse_threshold(value)


@dataclass(frozen=True)
class NodeConfig:
    """Validated parameter values. Each field is one declared parameter, and its row of the
    one parameter table: type, default, description and options (PARAMETERS reads them here)."""

    model_path: str = _parameter(
        "string",
        "",
        "Contract-1 model: an .onnx file (FP32, FP16 or the INT8 of `dense-ood quantize`), or a "
        "TensorRT plan (.plan) built by `dense-ood build-engine`, with its `<plan>.json` beside "
        "it. Empty: the bundled model (share/dense_ood_ros/models/camvid_nflowjs.onnx, trained "
        "on the 367 CamVid training frames of Cambridge streets, for research use only (CC "
        "BY-NC 4.0): replace it with a model trained on your domain). The node exits with an "
        "error if the file is missing or not a contract-1 model.",
        parse=_stripped,
    )
    backend: str = _parameter(
        "string",
        "auto",
        "Inference backend: auto (TensorRT where it imports and a GPU is present, else ONNX "
        "Runtime with one warning), onnxruntime (its CUDA provider where present), or tensorrt. "
        "The TensorRT path has not run on a GPU yet (docs/engines.md).",
        choices=BACKENDS,
        parse=_choice,
    )
    engine_cache_dir: str = _parameter(
        "string",
        "",
        "TensorRT with an .onnx model_path: the plan is built at the first start (minutes; the "
        "log says how long) and cached here, or beside the ONNX when empty. A cached plan for "
        "another GPU or TensorRT version, or one that no longer deserialises, is rebuilt.",
        parse=_stripped,
    )
    # None: the ONNX's own
    engine_precision: str | None = _parameter(
        "string",
        "",
        "Precision of a TensorRT plan built from an ONNX model_path; empty = the ONNX's own. "
        "TensorRT 11 builds only the ONNX's own (an FP16 export, or a Q/DQ model for INT8). The "
        "node has no calibration frames: int8 needs an INT8 model_path (`dense-ood quantize`) "
        "or a plan, and is refused at start otherwise.",
        choices=("", *PRECISIONS),
        parse=_choice_or_none,
    )
    force_engine_rebuild: bool = _parameter(
        "bool",
        False,
        "TensorRT: rebuild the plan at start even when the cached one matches this machine.",
        parse=_bool,
    )
    image_topics: tuple[str, ...] = _parameter(
        "string[]",
        ["/camera/image_raw"],
        "Camera topics (sensor_msgs/Image). One node serves all of them with one engine. For an "
        "input `<ns>/<name>` the outputs are published under `<ns>/dense_ood/` (semantic, "
        "semantic_color, anomaly_score, anomaly_mask, overlay) with the input's header and size.",
        min_items=1,
        constraint="valid topic names whose output namespaces differ",
        parse=_image_topics,
    )
    compressed: bool = _parameter(
        "bool",
        False,
        "true: subscribe to sensor_msgs/CompressedImage (JPEG/PNG) on `<topic>/compressed` "
        "instead of `<topic>`.",
        parse=_bool,
    )
    # None: the model's threshold
    anomaly_threshold: float | None = _parameter(
        "double",
        math.nan,
        "Pixels with anomaly_score >= this are 255 in anomaly_mask. .nan = the threshold stored "
        "in the model (chosen on validation data); scores such as negative max logit may be "
        "negative.",
        constraint="finite, or .nan for the model's",
        dynamic=True,
        parse=_threshold,
    )
    publish_color: bool = _parameter(
        "bool",
        True,
        "Publish semantic_color. Even when true, it is rendered only while some node subscribes "
        "to it, so RViz-only outputs cost nothing on the vehicle.",
        dynamic=True,
        parse=_bool,
    )
    publish_overlay: bool = _parameter(
        "bool",
        True,
        "Publish overlay (camera image, class colours blended, anomalies marked); rendered only "
        "while some node subscribes to it.",
        dynamic=True,
        parse=_bool,
    )
    output_size: str = _parameter(
        "string",
        "camera",
        "Size of the outputs: camera (the input frame's) or model (the model's input size: less "
        "bandwidth and no full-resolution post-processing; camera_info is scaled to match).",
        choices=OUTPUT_SIZES,
        parse=_choice,
    )
    qos: str = _parameter(
        "string",
        "auto",
        "QoS: auto (each camera subscription follows the reliability its publishers offer, "
        "checked every second; outputs reliable, which every subscriber matches), sensor_data "
        "(best effort, keep last 5, inputs and outputs) or reliable (reliable, keep last 5, "
        "inputs and outputs).",
        choices=QOS_PROFILES,
        parse=_choice,
    )
    enable_obstacles: bool = _parameter(
        "bool",
        True,
        "Publish the anomaly obstacles of each camera: the connected components of the anomaly "
        "mask as markers (`<ns>/dense_ood/anomaly_obstacles`, visualization_msgs/MarkerArray) "
        "and their ground contact points (`<ns>/dense_ood/anomaly_points`, "
        "sensor_msgs/PointCloud2) for a costmap. false: neither topic exists.",
        parse=_bool,
    )
    obstacle_min_pixels: int = _parameter(
        "integer",
        64,
        "Smallest obstacle, in pixels of the anomaly mask at the model's input size (after an "
        "opening that removes specks); smaller components are ignored.",
        constraint="at least 1",
        parse=_count,
    )
    obstacle_max_count: int = _parameter(
        "integer",
        32,
        "At most this many obstacles per frame and camera, the largest first.",
        constraint="at least 1",
        parse=_count,
    )
    obstacle_max_points: int = _parameter(
        "integer",
        2000,
        "At most this many points per frame in anomaly_points: the ground contact points of "
        "every obstacle, subsampled evenly.",
        constraint="at least 1",
        parse=_count,
    )
    # None: unknown
    camera_height_m: float | None = _parameter(
        "double",
        math.nan,
        "Height of the cameras' optical centre above the ground (m), to place obstacles on "
        "flat ground through the camera's `<ns>/camera_info`. .nan = unknown: obstacles are "
        "published without positions (no cubes, no points). Any other value that is not > 0 "
        "is logged once and does the same.",
        constraint="> 0, or .nan for unknown",
        parse=_double_or_unknown,
    )
    camera_pitch_rad: float = _parameter(
        "double",
        0.0,
        "Downward tilt of the cameras' optical axis (rad; 0 = level, negative = up). Outside "
        "(-pi/2, pi/2) it is logged once and obstacles are published without positions.",
        constraint="within (-pi/2, pi/2)",
        parse=_double,
    )


#: The node's parameters, in declaration order: one ParameterSpec per NodeConfig field.
PARAMETERS: tuple[ParameterSpec, ...] = tuple(
    replace(f.metadata[_SPEC], name=f.name) for f in fields(NodeConfig)
)

#: Read-only parameters the node sets from the model's contract once it is loaded.
MODEL_PARAMETER_SPECS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "class_names",
        "string[]",
        None,
        "Class name of each trainId (index = value in semantic), from the model.",
        from_model=True,
    ),
    ParameterSpec(
        "palette",
        "string[]",
        None,
        "Colour of each trainId as '#rrggbb' (index = value in semantic), from the model.",
        from_model=True,
    ),
)

#: name -> description of the model's parameters.
MODEL_PARAMETERS: dict[str, str] = {spec.name: spec.description for spec in MODEL_PARAMETER_SPECS}
PARAMETER_NAMES: tuple[str, ...] = tuple(spec.name for spec in PARAMETERS)
DYNAMIC_PARAMETERS: frozenset[str] = frozenset(spec.name for spec in PARAMETERS if spec.dynamic)
#: name -> ParameterSpec of the node's parameters.
SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}


class NodeConfigError(DenseOodError, ValueError):
    """A parameter value the node cannot run with; the message names the parameter."""


class ParamDocsError(DenseOodError, ValueError):
    """A file generated from the table (param_docs) lacks the markers the table goes between."""


def parse_config(values: Mapping[str, Any], default_model: Path | None = None) -> NodeConfig:
    """Validate parameter values (missing names take their defaults); raise NodeConfigError.

    An empty `model_path` means `default_model` (the bundled demo model, where it is shipped).
    """
    given = {spec.name: values.get(spec.name, spec.default) for spec in PARAMETERS}
    model_path = _stripped(SPECS["model_path"], given["model_path"]) or str(default_model or "")
    if not model_path:
        raise NodeConfigError(
            "parameter 'model_path' is required (path to a contract-1 .onnx model)"
        )
    parsed = {f.name: f.metadata[_PARSE](SPECS[f.name], given[f.name]) for f in fields(NodeConfig)}
    parsed["model_path"] = model_path
    parsed["engine_precision"] = _int8_with_calibration(parsed["engine_precision"], model_path)
    return NodeConfig(**parsed)


def _int8_with_calibration(precision: str | None, model_path: str) -> str | None:
    """The precision (None: the ONNX's own); int8 only where the model needs no calibration.

    The node has no calibration frames, so an int8 plan can come only from an ONNX that is
    INT8 already (the Q/DQ model of `dense-ood quantize`) or from a given plan. A missing or
    unreadable model is left for the model loader to report.
    """
    if precision != "int8" or is_plan_file(model_path) or not Path(model_path).is_file():
        return precision
    try:
        own = precision_of(read_onnx_metadata(model_path))
    except ContractError:
        return precision
    if own != "int8":
        raise NodeConfigError(
            f"parameter 'engine_precision' is int8, but {model_path} is {own} and the node has "
            "no calibration frames: give the INT8 model of `dense-ood quantize` or a plan from "
            "`dense-ood build-engine --precision int8`, or leave engine_precision empty"
        )
    return precision


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


def mounting_problem(config: NodeConfig) -> str | None:
    """Why obstacles cannot be placed on the ground with the configured camera mounting (one
    line naming the parameter), or None. The node keeps serving either way: obstacles are
    then published without positions."""
    height, pitch = config.camera_height_m, config.camera_pitch_rad
    if height is None:
        return (
            "parameter 'camera_height_m' is .nan (unknown): set it (and camera_pitch_rad) to "
            "place them on the ground"
        )
    if not (height > 0 and math.isfinite(height)):
        return f"parameter 'camera_height_m' is {height:g}: it must be > 0 m (.nan: unknown)"
    if not abs(pitch) < math.pi / 2:
        return f"parameter 'camera_pitch_rad' is {pitch:g}: it must be within (-pi/2, pi/2)"
    return None


def palette_strings(palette: np.ndarray) -> list[str]:
    """[K, 3] RGB rows -> ['#rrggbb', ...], the `palette` parameter's form."""
    rows = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    return ["#{:02x}{:02x}{:02x}".format(*(int(c) for c in row)) for row in rows]
