"""Build a TensorRT plan from a contract-1 ONNX model: `dense-ood build-engine`, and the node's
first start with an ONNX `model_path`.

Written against the TensorRT Python API of versions 10 and 11, which differ in how precision
is chosen:

- **TensorRT 10** builds weakly typed networks: FP16 and INT8 are builder flags on the FP32
  ONNX, INT8 with an entropy calibrator (`EntropyCalibrator`, fed by `engine.calibration`,
  its table cached beside the plan). An ONNX that carries its own precision (an FP16 export or
  a Q/DQ model from `dense-ood quantize`) is built strongly typed, as it says.
- **TensorRT 11** builds only strongly typed networks: FP16 needs an FP16 ONNX
  (`dense-ood-train export --fp16`), INT8 the Q/DQ model of `dense-ood quantize`. Asking it
  for anything else is refused with a message that says what to give it.

Every build has one optimisation profile for the contract's input (batch 1 to the number of
cameras), reuses and updates a timing cache (`timing.cache` beside the plan, for the node's
builds and by default for `dense-ood build-engine`), and writes the plan's sidecar
(engine_key.py). None of this has run on a GPU yet: see docs/engines.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dense_ood_ros.engine.base import EngineError
from dense_ood_ros.engine.calibration import CalibrationSet
from dense_ood_ros.engine.engine_key import (
    EngineKey,
    Machine,
    input_shapes,
    sha256_of,
)
from dense_ood_ros.model.contract import (
    INPUT_NAME,
    KEY_PRECISION,
    PRECISIONS,
    ModelContract,
    precision_of,
    read_onnx_metadata,
)
from dense_ood_ros.model.plan_file import PlanSidecar


def import_tensorrt() -> Any:
    """The tensorrt module; EngineError with the reason where it is not installed."""
    try:
        import tensorrt
    except ImportError as exc:
        raise EngineError(
            f"TensorRT is not installed here ({exc}); pip install tensorrt on a machine with an "
            "NVIDIA GPU, or use backend 'onnxruntime'"
        ) from exc
    return tensorrt


def tensorrt_major(trt: Any) -> int:
    return int(str(trt.__version__).split(".")[0])


@dataclass(frozen=True)
class BuildOptions:
    """How to build: precision, cameras per engine call, workspace, caches, calibration."""

    precision: str | None = None  # None: the ONNX's own precision
    max_batch: int = 1
    workspace_mb: int | None = None  # None: TensorRT's default (the GPU's memory)
    timing_cache: Path | None = None
    calibration: CalibrationSet | None = None  # TensorRT 10 INT8 from an FP32 ONNX
    calibration_cache: Path | None = None


def network_recipe(major: int, onnx_precision: str, precision: str) -> str:
    """How TensorRT `major` builds `precision` from an ONNX of `onnx_precision`:
    "strong" (types as the ONNX says), "fp32", "fp16-flag" or "int8-calibrate"; EngineError
    for what that version cannot do, saying what would work."""
    if precision not in PRECISIONS:
        raise EngineError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if onnx_precision != "fp32":
        if precision != onnx_precision:
            raise EngineError(
                f"this ONNX is {onnx_precision}; it builds a {onnx_precision} engine only "
                f"(for {precision}, start from the FP32 model)"
            )
        return "strong"
    if precision == "fp32":
        return "fp32"
    if major >= 11:
        source = (
            "an FP16 ONNX (dense-ood-train export --fp16)"
            if precision == "fp16"
            else "the Q/DQ model of `dense-ood quantize`"
        )
        raise EngineError(
            f"TensorRT {major} builds only strongly typed networks: {precision} needs {source}, "
            "not an FP32 ONNX"
        )
    return "fp16-flag" if precision == "fp16" else "int8-calibrate"


def build_plan(
    onnx: Path,
    plan: Path,
    options: BuildOptions,
    machine: Machine,
    log: Callable[[str], object] = print,
) -> PlanSidecar:
    """Build `onnx` into `plan` (and its sidecar) on this machine's GPU; return the sidecar."""
    trt = import_tensorrt()
    metadata = read_onnx_metadata(onnx)
    contract = ModelContract.from_metadata(metadata, source=str(onnx))
    onnx_precision = precision_of(metadata)
    precision = options.precision or onnx_precision
    recipe = network_recipe(tensorrt_major(trt), onnx_precision, precision)
    if recipe == "int8-calibrate" and options.calibration is None:
        raise EngineError(
            "INT8 from an FP32 ONNX needs calibration frames (--calibration-dir or "
            "--calibration-bag), or give the Q/DQ model of `dense-ood quantize`"
        )
    _check_writable(plan)  # before minutes of building, not after
    shapes = input_shapes(INPUT_NAME, contract.input_hw, options.max_batch)
    log(
        f"building a {precision} TensorRT {trt.__version__} engine of {onnx} for "
        f"{machine.gpu_name}, batch 1..{options.max_batch}; the first build takes minutes"
    )
    start = time.perf_counter()
    serialized = _build(trt, onnx, recipe, shapes[INPUT_NAME], options)
    seconds = time.perf_counter() - start
    plan.write_bytes(serialized)
    key = EngineKey.build(sha256_of(onnx), machine, precision, shapes)
    sidecar = PlanSidecar(
        {**metadata, KEY_PRECISION: precision}, asdict(key), str(onnx.resolve()), seconds
    )
    sidecar.write(plan)
    log(f"built {plan} in {seconds:.1f} s")
    return sidecar


def _check_writable(plan: Path) -> None:
    """EngineError unless the plan's folder can be written (an installed, read-only share/)."""
    import os

    try:
        plan.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(f"cannot create {plan.parent} for the plan ({exc.strerror})") from exc
    if not os.access(plan.parent, os.W_OK):
        raise EngineError(
            f"cannot write the plan into {plan.parent}: set engine_cache_dir (node) or "
            "--output (build-engine) to a writable folder"
        )


def _build(trt: Any, onnx: Path, recipe: str, shape: list[list[int]], options: BuildOptions):
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt, recipe))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot parse {onnx}: {errors}")
    config = builder.create_builder_config()
    if options.workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, *shape)
    config.add_optimization_profile(profile)
    calibrator = None
    if recipe == "fp16-flag":
        config.set_flag(trt.BuilderFlag.FP16)
    elif recipe == "int8-calibrate":
        assert options.calibration is not None
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_flag(trt.BuilderFlag.FP16)  # layers INT8 cannot take run in FP16, not FP32
        calibrator = make_entropy_calibrator(trt, options.calibration, options.calibration_cache)
        config.int8_calibrator = calibrator
        config.set_calibration_profile(profile)
    if options.timing_cache is not None:
        attach_timing_cache(config, options.timing_cache)
    try:
        serialized = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.free()
    if serialized is None:
        raise EngineError(f"TensorRT could not build {onnx} (its log above says why)")
    if options.timing_cache is not None:
        save_timing_cache(config, options.timing_cache)
    return bytes(memoryview(serialized))


def _network_flags(trt: Any, recipe: str) -> int:
    """TensorRT 11 networks are strongly typed anyway; TensorRT 10 needs the flag for an ONNX
    that carries its own FP16 or Q/DQ types."""
    if recipe == "strong" and tensorrt_major(trt) < 11:
        return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return 0


def attach_timing_cache(config: Any, path: Path) -> bool:
    """Give the builder `config` the timing cache stored at `path`; True when it was reused.

    A missing file, or one TensorRT refuses (another GPU or TensorRT version, a corrupt file),
    gives an empty cache instead; `save_timing_cache` then replaces the file."""
    stored = path.read_bytes() if path.is_file() else b""
    if stored:
        try:
            cache = config.create_timing_cache(stored)
        except (RuntimeError, TypeError, ValueError):  # bindings raise on unparsable bytes
            cache = None
        if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
            return True
    config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    return False


def save_timing_cache(config: Any, path: Path) -> None:
    """Write the builder's timing cache (the reused one plus this build's timings) to `path`,
    through a temporary file so that a node building at the same time never reads half of it."""
    serialized = bytes(memoryview(config.get_timing_cache().serialize()))
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(serialized)
    os.replace(partial, path)


def make_entropy_calibrator(trt: Any, calibration: CalibrationSet, cache: Path | None) -> Any:
    """A TensorRT 10 IInt8EntropyCalibrator2 over `calibration` (batch 1, uint8 frames as the
    node feeds them), reading and writing its table at `cache`."""
    from dense_ood_ros.engine.cuda_runtime import DeviceBuffer, PinnedArray, cudart

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            first = calibration.frames[0][None]
            self._batches = calibration.batches(1)
            self._host = PinnedArray(first.shape, first.dtype)
            self._device = DeviceBuffer(first.nbytes)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> list[int] | None:
            from dense_ood_ros.engine.cuda_runtime import call

            batch = next(self._batches, None)
            if batch is None:
                return None
            self._host.array[...] = batch
            kind = cudart().cudaMemcpyKind.cudaMemcpyHostToDevice
            call(
                "cudaMemcpy",
                cudart().cudaMemcpy(self._device.address, self._host.address, batch.nbytes, kind),
            )
            return [self._device.address]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache is not None and cache.is_file() else None

        def write_calibration_cache(self, table: Any) -> None:
            if cache is not None:
                cache.write_bytes(bytes(memoryview(table)))

        def free(self) -> None:
            self._host.free()
            self._device.free()

    return EntropyCalibrator()
