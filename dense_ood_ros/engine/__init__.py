"""Engine selection: `load_engine(path, backend)` with backend auto | onnxruntime | tensorrt.

`auto` takes TensorRT when it can run here and ONNX Runtime otherwise. Loading raises
ContractError when the file is missing or not a contract-1 model, EngineError when the backend
cannot load or run it; both carry one user-facing line.
"""

from __future__ import annotations

from pathlib import Path

from dense_ood_ros.engine.base import Engine, EngineError, EngineOutputs
from dense_ood_ros.model.contract import ContractError

BACKENDS = ("auto", "onnxruntime", "tensorrt")

__all__ = ["BACKENDS", "ContractError", "Engine", "EngineError", "EngineOutputs", "load_engine"]


def load_engine(model_path: str | Path, backend: str = "auto") -> Engine:
    """Load a contract-1 model with the chosen backend."""
    from dense_ood_ros.engine import tensorrt_backend

    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    reason = tensorrt_backend.unavailable_reason()
    if backend == "tensorrt" or (backend == "auto" and reason is None):
        if reason is not None:
            raise EngineError(f"TensorRT backend is not available here: {reason}")
        return tensorrt_backend.TensorRTEngine(model_path)
    from dense_ood_ros.engine.onnxruntime_backend import OnnxRuntimeEngine

    return OnnxRuntimeEngine(model_path)
