"""Engine selection: `load_engine(path, backend)` with backend auto | onnxruntime | tensorrt.

- `onnxruntime`: the ONNX model in ONNX Runtime (its CUDA provider where present).
- `tensorrt`: a TensorRT plan. Given an ONNX, the plan is built on first use and cached
  (beside the ONNX or in `engine_cache_dir`); a cached plan or a given plan whose engine key
  does not match this machine, or that no longer deserialises, is rebuilt from its ONNX. Builds
  reuse and update the `timing.cache` in the plan's folder.
- `auto`: TensorRT where it imports and a GPU is visible, else ONNX Runtime with one warning.

Loading raises ContractError when the file is missing or not a contract-1 model (its
PlanSidecarError when a plan's sidecar cannot be used), EngineError when the backend cannot
load or run it; each carries one user-facing line. A path is a plan when `is_plan_file` says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dense_ood_ros.engine.base import Engine, EngineOutputs
from dense_ood_ros.engine.calibration import CalibrationError
from dense_ood_ros.engine.errors import EngineError, PlanLoadError, QuantizeError
from dense_ood_ros.model.errors import ContractError, PlanSidecarError
from dense_ood_ros.model.plan_file import is_plan_file

if TYPE_CHECKING:
    from dense_ood_ros.engine.engine_key import PlanDecision
    from dense_ood_ros.engine.tensorrt_build import BuildOptions

#: The `backend` values every front end accepts (node parameter, bench, demo, evaluate).
BACKENDS = ("auto", "onnxruntime", "tensorrt")

__all__ = [
    "BACKENDS",
    "CalibrationError",
    "ContractError",
    "Engine",
    "EngineError",
    "EngineLog",
    "EngineOutputs",
    "PlanLoadError",
    "PlanSidecarError",
    "QuantizeError",
    "is_plan_file",
    "load_engine",
]


class EngineLog(Protocol):
    """Where loading reports builds and fallbacks: a logging.Logger or an rclpy logger."""

    def info(self, message: str) -> object: ...

    def warning(self, message: str) -> object: ...


def load_engine(
    model_path: str | Path,
    backend: str = "auto",
    *,
    max_batch: int = 1,
    engine_cache_dir: str | Path | None = None,
    force_rebuild: bool = False,
    precision: str | None = None,
    log: EngineLog | None = None,
) -> Engine:
    """Load a contract-1 model (ONNX or TensorRT plan) with the chosen backend.

    `max_batch` (the number of cameras) sizes a plan built here; `precision` (None: the ONNX's
    own) is the precision of such a plan.
    """
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    path = Path(model_path)
    log = log or logging.getLogger("dense_ood_ros.engine")
    is_plan = is_plan_file(path)
    cache_dir = Path(engine_cache_dir) if engine_cache_dir else None
    if backend == "tensorrt":
        return _tensorrt(path, max_batch, cache_dir, force_rebuild, precision, log)
    if is_plan and backend == "onnxruntime":
        raise EngineError(f"{path} is a TensorRT plan: ONNX Runtime runs .onnx models only")
    if backend == "auto":
        reason = tensorrt_unavailable()
        if reason is None:
            return _tensorrt(path, max_batch, cache_dir, force_rebuild, precision, log)
        if is_plan:
            raise EngineError(f"{path} is a TensorRT plan, but TensorRT cannot run here: {reason}")
    from dense_ood_ros.engine.onnxruntime_backend import OnnxRuntimeEngine

    engine = OnnxRuntimeEngine(path)
    if backend == "auto":
        log.warning(f"backend auto: TensorRT is not used ({reason}); running ONNX Runtime")
    return engine


def tensorrt_unavailable() -> str | None:
    """Why the TensorRT backend cannot run here (no tensorrt, no cuda-python, no GPU), or None."""
    import importlib.util

    if importlib.util.find_spec("tensorrt") is None:
        return "the tensorrt package is not installed"
    try:
        from dense_ood_ros.engine.cuda_runtime import this_machine
        from dense_ood_ros.engine.tensorrt_build import import_tensorrt

        this_machine(import_tensorrt().__version__)
    except EngineError as exc:
        return str(exc)
    return None


def _tensorrt(
    path: Path,
    max_batch: int,
    cache_dir: Path | None,
    force_rebuild: bool,
    precision: str | None,
    log: EngineLog,
) -> Engine:
    """The plan for `path` on this machine: used, built or rebuilt as engine_key decides."""
    from dense_ood_ros.engine.cuda_runtime import this_machine
    from dense_ood_ros.engine.engine_key import plan_decision
    from dense_ood_ros.engine.tensorrt_backend import TensorRtEngine
    from dense_ood_ros.engine.tensorrt_build import build_plan, import_tensorrt

    machine = this_machine(import_tensorrt().__version__)
    decision = plan_decision(path, machine, max_batch, cache_dir, force_rebuild, precision)
    options = build_options(decision, max_batch)
    if decision.action == "build":
        assert decision.onnx is not None
        log.info(f"TensorRT engine {decision.plan}: {decision.reason}")
        build_plan(decision.onnx, decision.plan, options, machine, log.info)
    try:
        return TensorRtEngine(decision.plan)
    except PlanLoadError as exc:
        if decision.onnx is None or decision.action == "build":
            raise
        log.warning(f"{exc}: rebuilding it from {decision.onnx}")
        build_plan(decision.onnx, decision.plan, options, machine, log.info)
        return TensorRtEngine(decision.plan)


def build_options(decision: PlanDecision, max_batch: int) -> BuildOptions:
    """How the loader builds `decision.plan`: its precision, batch 1..`max_batch`, and the
    timing cache of the plan's folder (as `dense-ood build-engine` uses by default)."""
    from dense_ood_ros.engine.engine_key import timing_cache_path
    from dense_ood_ros.engine.tensorrt_build import BuildOptions

    return BuildOptions(
        precision=decision.precision,
        max_batch=max_batch,
        timing_cache=timing_cache_path(decision.plan),
    )
