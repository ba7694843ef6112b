"""TensorRT backend: not available in this release; it reports why, so `auto` can fall back.

The TensorRT issue implements `TensorRTEngine` here (plan build and cache keyed by ONNX hash,
TensorRT version, GPU compute capability, precision and shapes; see DESIGN.md). Until then this
module only answers whether TensorRT could be used and raises a clear EngineError otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_ros.engine.base import Engine, EngineError, EngineOutputs
from dense_ood_ros.model.contract import ModelContract, read_contract

BACKEND_NAME = "tensorrt"


def unavailable_reason() -> str | None:
    """Why the TensorRT backend cannot run here, or None if it can."""
    try:
        import tensorrt  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising OSError etc.
        return f"the 'tensorrt' Python package does not import ({type(exc).__name__}: {exc})"
    if not _has_cuda_device():
        return "no NVIDIA GPU is visible (libcuda or a CUDA device is missing)"
    return "this release has no TensorRT engine yet; use backend 'onnxruntime'"


def _has_cuda_device() -> bool:
    """True when the CUDA driver loads and reports at least one device."""
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return False
    return count.value > 0


class TensorRTEngine(Engine):
    """A TensorRT engine for a contract-1 model (placeholder: raises until implemented)."""

    backend_name = BACKEND_NAME

    def __init__(self, model_path: str | Path) -> None:
        self.model_path = Path(model_path)
        self.contract: ModelContract = read_contract(self.model_path)
        raise EngineError(f"TensorRT backend is not available here: {unavailable_reason()}")

    def infer(self, images: np.ndarray, extra_scores: bool = True) -> EngineOutputs:
        raise EngineError("TensorRT backend is not available here")
