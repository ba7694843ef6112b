"""The engine package's errors: a backend that cannot load or run a model, a stale plan, a
failed quantization."""

from __future__ import annotations

from dense_ood_ros.errors import DenseOodError


class EngineError(DenseOodError, RuntimeError):
    """A backend cannot load or run a model; the message is one user-facing line."""


class PlanLoadError(EngineError):
    """A plan TensorRT cannot deserialise (a stale engine after a driver or TensorRT upgrade);
    the loader rebuilds it from its ONNX where it can."""


class QuantizeError(DenseOodError, RuntimeError):
    """A model cannot be quantized (not a contract-1 float model, a quantizer failure)."""
