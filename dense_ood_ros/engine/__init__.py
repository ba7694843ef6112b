"""Engine selection: `load_engine(path, backend)` with backend auto | onnxruntime | tensorrt.

Only ONNX Runtime exists in this release: `auto` takes it, and `tensorrt` is refused with an
EngineError that says so (the TensorRT backend is not implemented yet). Loading raises
ContractError when the file is missing or not a contract-1 model, EngineError when the backend
cannot load or run it; both carry one user-facing line.
"""

from __future__ import annotations

from pathlib import Path

from dense_ood_ros.engine.base import Engine, EngineError, EngineOutputs
from dense_ood_ros.model.contract import ContractError

#: The `backend` values every front end accepts (node parameter, bench, demo, evaluate).
BACKENDS = ("auto", "onnxruntime", "tensorrt")
TENSORRT_NOT_YET = (
    "the TensorRT backend is not implemented yet; use backend 'onnxruntime' or 'auto'"
)

__all__ = ["BACKENDS", "ContractError", "Engine", "EngineError", "EngineOutputs", "load_engine"]


def load_engine(model_path: str | Path, backend: str = "auto") -> Engine:
    """Load a contract-1 model with the chosen backend."""
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "tensorrt":
        raise EngineError(TENSORRT_NOT_YET)
    from dense_ood_ros.engine.onnxruntime_backend import OnnxRuntimeEngine

    return OnnxRuntimeEngine(model_path)
