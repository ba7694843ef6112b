"""INT8 with Q/DQ nodes: ONNX Runtime's static quantization of a contract-1 model.

One model serves two engines: ONNX Runtime runs it on CPUs (QLinearConv kernels), and
TensorRT 11, which builds only strongly typed networks, takes exactly such a Q/DQ model for
INT8. Which operators are quantized was chosen by profiling the bundled default model
(docs/engines.md): only the dense convolutions are. What stays in float, and why:

- the score head (softmax, JSD, argmax): the anomaly score is a difference of probabilities
  near 1, which 8 bits would flatten, and its reductions have no INT8 kernels anyway;
- depthwise and grouped convolutions: quantizing them too gave no speed (1.26x against 1.28x)
  and cost 0.4 points of agreement with FP32;
- the first convolution, which sees the normalised image through three channels: quantizing
  it made the model slower (1.13x) and cost 0.3 points of agreement.

The classifier (the last convolution) is quantized: keeping it in float gained 0.03 points of
agreement and lost most of the speed (1.03x against 1.28x; docs/engines.md has every variant,
which `keep_float` / `--keep-float` reproduce).

Weights are per channel, in 7 bits (`reduce_range`): CPUs without VNNI multiply u8 x s8 with
16-bit saturation, which full 8-bit weights overflow. Activation ranges are the 99.99th
percentile of what the calibration frames produce, which ignores the rare outliers that a plain
min/max would stretch the scale for.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.engine.calibration import CalibrationSet
from dense_ood_ros.engine.errors import QuantizeError
from dense_ood_ros.errors import first_line
from dense_ood_ros.model.contract import (
    INPUT_NAME,
    KEY_PRECISION,
    ModelContract,
    precision_of,
    read_onnx_metadata,
    write_onnx_metadata,
)

#: Convolutions that may be kept in float, and the default choice (module docstring: why).
FLOAT_CHOICES = ("depthwise", "first", "last")
DEFAULT_FLOAT = ("depthwise", "first")
#: Calibration methods of ONNX Runtime's quantizer, by our option name.
CALIBRATION_METHODS = ("percentile", "minmax", "entropy")
DEFAULT_PERCENTILE = 99.99
#: Metadata key: how the model was quantized (JSON: method, frames, their source).
KEY_QUANTIZATION = "dense_ood.quantization"


@dataclass
class QuantizeReport:
    """What `quantize_int8` did: the nodes quantized and those kept in float, with the reason."""

    output: Path
    quantized: list[str]
    kept_float: dict[str, list[str]] = field(default_factory=dict)  # reason -> node names
    seconds: float = 0.0


def quantize_int8(
    model: Path,
    output: Path,
    calibration: CalibrationSet,
    method: str = "percentile",
    percentile: float = DEFAULT_PERCENTILE,
    progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None,
    keep_float: tuple[str, ...] = DEFAULT_FLOAT,
) -> QuantizeReport:
    """Write `model` as a Q/DQ INT8 ONNX to `output`, calibrated on `calibration`."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in CALIBRATION_METHODS:
        raise QuantizeError(f"calibration method must be one of {', '.join(CALIBRATION_METHODS)}")
    meta = read_onnx_metadata(model)
    ModelContract.from_metadata(meta, source=str(model))  # contract-1 models only
    if precision_of(meta) != "fp32":
        raise QuantizeError(f"{model} is already {precision_of(meta)}; quantize the FP32 model")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        try:
            # ORT's recommended first step: shape inference and constant folding, so that the
            # quantizer sees every tensor's shape and the fused graph ORT will run
            quant_pre_process(str(model), str(prepared))
        except Exception as exc:
            message = f"{model}: cannot prepare for quantization ({first_line(exc)})"
            raise QuantizeError(message) from exc
        graph = onnx.load(str(prepared)).graph
        kept = float_nodes(graph, keep_float)
        excluded = [name for names in kept.values() for name in names]
        reader = _CalibrationReader(calibration, progress)
        output.parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("onnxruntime.quantization").setLevel(logging.WARNING)
        try:
            quantize_static(
                str(prepared),
                str(output),
                reader,
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=["Conv"],
                nodes_to_exclude=excluded,
                per_channel=True,
                reduce_range=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=_method(method),
                extra_options={"CalibPercentile": percentile} if method == "percentile" else {},
            )
        except Exception as exc:  # the quantizer raises plain ValueError/RuntimeError/ORT errors
            raise QuantizeError(f"{model}: quantization failed ({first_line(exc)})") from exc
    quantized = [n.name for n in graph.node if n.op_type == "Conv" and n.name not in excluded]
    write_onnx_metadata(output, _int8_metadata(meta, calibration, method, percentile, keep_float))
    return QuantizeReport(output, quantized, kept, time.perf_counter() - start)


def float_nodes(graph: Any, keep: tuple[str, ...] = DEFAULT_FLOAT) -> dict[str, list[str]]:
    """The convolutions kept in float, by reason: any of depthwise (and grouped), the first,
    the last (the classifier)."""
    unknown = set(keep) - set(FLOAT_CHOICES)
    if unknown:
        raise QuantizeError(f"cannot keep {sorted(unknown)} in float; choose from {FLOAT_CHOICES}")
    convs = [node for node in graph.node if node.op_type == "Conv"]
    grouped = [node.name for node in convs if _group(node) > 1]
    dense = [node for node in convs if node.name not in grouped]
    kept: dict[str, list[str]] = {}
    if "depthwise" in keep:
        kept["depthwise or grouped"] = grouped
    if "first" in keep and dense:
        kept["first convolution (the normalised image)"] = [dense[0].name]
    if "last" in keep and len(dense) > 1:
        kept["last convolution (the classifier)"] = [dense[-1].name]
    return kept


def _group(node: Any) -> int:
    return next((int(a.i) for a in node.attribute if a.name == "group"), 1)


def _method(name: str) -> Any:
    from onnxruntime.quantization import CalibrationMethod

    return {
        "percentile": CalibrationMethod.Percentile,
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
    }[name]


class _CalibrationReader:
    """ORT's CalibrationDataReader protocol: one input feed per call, None at the end."""

    def __init__(self, calibration: CalibrationSet, progress: Callable | None) -> None:
        batches: Iterator[np.ndarray] = calibration.batches(1)
        if progress is not None:
            batches = progress(batches, len(calibration.frames))
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}

    def __iter__(self):  # newer ORT versions iterate the reader
        return iter(self.get_next, None)


def _int8_metadata(
    meta: dict[str, str],
    calibration: CalibrationSet,
    method: str,
    percentile: float,
    kept: tuple[str, ...],
) -> dict[str, str]:
    """The float model's metadata, plus the precision and how the ranges were calibrated."""
    how: dict[str, Any] = {"method": method, "frames": len(calibration.frames), "float": kept}
    if method == "percentile":
        how["percentile"] = percentile
    how["source"] = calibration.source
    return {**meta, KEY_PRECISION: "int8", KEY_QUANTIZATION: json.dumps(how)}
