"""ONNX Runtime backend: runs a contract-1 ONNX model on the CPU, or on CUDA when ORT has it.

The model is opened once: the same session provides the contract metadata and runs inference,
so a large model is not parsed and optimised twice at start.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dense_ood_ros.engine.base import Engine, EngineError, EngineOutputs
from dense_ood_ros.errors import first_line
from dense_ood_ros.model.contract import (
    EXTRA_SCORE_PREFIX,
    INPUT_NAME,
    SCORE_OUTPUT,
    SEMANTIC_OUTPUT,
    ContractError,
    ModelContract,
    precision_of,
)

BACKEND_NAME = "onnxruntime"

#: Providers we use, best first; others ORT may list (Azure, TensorRT EP) are left out on purpose:
#: TensorRT has its own backend with its own plan cache.
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")

_ORT_TYPES = {"tensor(uint8)": "uint8", "tensor(float)": "float32"}


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, always with the CPU as fallback."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    return [name for name in PREFERRED_PROVIDERS if name in available] or ["CPUExecutionProvider"]


class OnnxRuntimeEngine(Engine):
    """A contract-1 ONNX model in an ONNX Runtime session."""

    backend_name = BACKEND_NAME

    def __init__(
        self,
        model_path: str | Path,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
        profile_prefix: str | None = None,
    ) -> None:
        """Open `model_path`; `intra_op_threads=0` lets ORT use one thread per physical core.
        `profile_prefix` turns on ORT's per-operator profiler (see `end_profiling`)."""
        self.model_path = Path(model_path)
        self._session = _open_session(self.model_path, providers, intra_op_threads, profile_prefix)
        meta = dict(self._session.get_modelmeta().custom_metadata_map)
        self.contract: ModelContract = ModelContract.from_metadata(meta, source=str(model_path))
        self.precision = precision_of(meta)
        self.providers: list[str] = list(self._session.get_providers())
        self._main_outputs = [SEMANTIC_OUTPUT, SCORE_OUTPUT]
        self._extra_outputs = [EXTRA_SCORE_PREFIX + name for name in self.contract.extra_scores]
        self._fixed_batch_one = _validate_io(self._session, self.contract, str(model_path))

    def infer(self, images: np.ndarray, extra_scores: bool = True) -> EngineOutputs:
        self.check_images(images)
        if self._fixed_batch_one and images.shape[0] > 1:
            return self.infer_in_chunks(images, 1, extra_scores)
        names = self._main_outputs + (self._extra_outputs if extra_scores else [])
        try:
            results = self._session.run(names, {INPUT_NAME: np.ascontiguousarray(images)})
        except Exception as exc:  # ORT raises its own exception types (Fail, InvalidArgument...)
            raise EngineError(f"{self.model_path}: inference failed ({first_line(exc)})") from exc
        expected = images.shape[:3]
        for name, result in zip(names, results, strict=True):
            if result.shape != expected:
                raise EngineError(
                    f"{self.model_path}: output '{name}' has shape {list(result.shape)}, "
                    f"the contract needs {list(expected)}"
                )
        extras = {
            name[len(EXTRA_SCORE_PREFIX) :]: result
            for name, result in zip(names[2:], results[2:], strict=True)
        }
        return EngineOutputs(semantic=results[0], score=results[1], extra_scores=extras)

    def end_profiling(self) -> Path:
        """Stop the profiler of a `profile_prefix` session; the path of its JSON trace."""
        return Path(self._session.end_profiling())


def _open_session(
    path: Path, providers: Sequence[str] | None, intra_op_threads: int, profile_prefix: str | None
):
    """An ORT session with full graph optimisation; ContractError if the file is no model."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EngineError(f"ONNX Runtime backend is not available here: {exc}") from exc

    if not path.is_file():
        raise ContractError(f"{path}: no such model file")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads
    options.log_severity_level = 3  # errors only; we report problems ourselves, in one line
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    # Idle ORT threads would spin after each run and steal the cores from post-processing.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), options, providers=list(providers or default_providers())
        )
    except Exception as exc:
        raise ContractError(f"{path}: not a readable ONNX model ({first_line(exc)})") from exc


def _validate_io(session, contract: ModelContract, source: str) -> bool:
    """Check inputs/outputs against the contract; return True if the batch size is fixed at 1."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        names = [i.name for i in inputs]
        raise EngineError(f"{source}: model must have one input '{INPUT_NAME}', has {names}")
    _check_tensor(inputs[0], "uint8", 4, source)
    batch, height, width, channels = inputs[0].shape
    for axis, size, want in (("height", height, contract.input_hw[0]),
                             ("width", width, contract.input_hw[1]),
                             ("channels", channels, 3)):  # fmt: skip
        if isinstance(size, int) and size != want:
            raise EngineError(
                f"{source}: input '{INPUT_NAME}' {axis} is {size}, the contract needs {want}"
            )
    outputs = {o.name: o for o in session.get_outputs()}
    wanted = {SEMANTIC_OUTPUT: "uint8", SCORE_OUTPUT: "float32"}
    wanted.update({EXTRA_SCORE_PREFIX + name: "float32" for name in contract.extra_scores})
    for name, dtype in wanted.items():
        if name not in outputs:
            raise EngineError(f"{source}: model has no output '{name}' (has {sorted(outputs)})")
        _check_tensor(outputs[name], dtype, 3, source)
    return batch == 1


def _check_tensor(arg, dtype: str, rank: int, source: str) -> None:
    got = _ORT_TYPES.get(arg.type, arg.type)
    if got != dtype or len(arg.shape) != rank:
        raise EngineError(
            f"{source}: '{arg.name}' must be a rank-{rank} {dtype} tensor, "
            f"is rank-{len(arg.shape)} {got}"
        )
