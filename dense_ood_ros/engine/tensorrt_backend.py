"""TensorRT backend: a deserialised plan run with `execute_async_v3` on its own CUDA stream.

I/O is by tensor name, never by binding index. Device buffers for the largest batch (the
plan's profile maximum, the number of cameras) and pinned host buffers are allocated once;
each call copies the batch in, sets the input shape, runs, and copies back only the outputs
asked for. CUDA comes from cuda-python, not torch. This has not run on a GPU yet (docs/engines.md).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.engine.base import Engine, EngineError, EngineOutputs
from dense_ood_ros.engine.cuda_runtime import (
    DeviceBuffer,
    PinnedArray,
    call,
    copy_to_device,
    copy_to_host,
    cudart,
)
from dense_ood_ros.engine.engine_key import EngineKey
from dense_ood_ros.engine.errors import PlanLoadError
from dense_ood_ros.engine.tensorrt_build import import_tensorrt
from dense_ood_ros.model.contract import (
    EXTRA_SCORE_PREFIX,
    INPUT_NAME,
    SCORE_OUTPUT,
    SEMANTIC_OUTPUT,
    ModelContract,
)
from dense_ood_ros.model.plan_file import PlanSidecar

BACKEND_NAME = "tensorrt"

_DTYPES = {SEMANTIC_OUTPUT: np.uint8, INPUT_NAME: np.uint8}


class TensorRtEngine(Engine):
    """A contract-1 TensorRT plan, with its sidecar's metadata."""

    backend_name = BACKEND_NAME

    def __init__(self, plan: Path) -> None:
        trt = import_tensorrt()
        sidecar = PlanSidecar.read(plan)
        self.model_path = plan
        self.contract: ModelContract = ModelContract.from_metadata(sidecar.metadata, str(plan))
        key = EngineKey.of_plan(plan, sidecar)
        self.precision = key.precision
        self.max_batch = int(key.input_shapes[INPUT_NAME][2][0])
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(plan.read_bytes())
        if self._engine is None:
            raise PlanLoadError(f"{plan}: TensorRT cannot deserialise this plan (stale engine?)")
        self._context = self._engine.create_execution_context()
        self._stream = call("cudaStreamCreate", cudart().cudaStreamCreate())
        self._outputs = [SEMANTIC_OUTPUT, SCORE_OUTPUT]
        self._outputs += [EXTRA_SCORE_PREFIX + name for name in self.contract.extra_scores]
        self._check_io(trt)
        self._host: dict[str, PinnedArray] = {}
        self._device: dict[str, DeviceBuffer] = {}
        for name in [INPUT_NAME, *self._outputs]:
            shape = self._max_shape(name)
            self._host[name] = PinnedArray(shape, np.dtype(_DTYPES.get(name, np.float32)))
            self._device[name] = DeviceBuffer(self._host[name].array.nbytes)
            self._context.set_tensor_address(name, self._device[name].address)

    def infer(self, images: np.ndarray, extra_scores: bool = True) -> EngineOutputs:
        self.check_images(images)
        if images.shape[0] > self.max_batch:
            return self.infer_in_chunks(images, self.max_batch, extra_scores)
        count = images.shape[0]
        wanted = self._outputs if extra_scores else self._outputs[:2]
        host_input = self._host[INPUT_NAME]
        host_input.array[:count] = images
        nbytes = images.nbytes
        copy_to_device(self._device[INPUT_NAME].address, host_input.address, nbytes, self._stream)
        self._context.set_input_shape(INPUT_NAME, images.shape)
        if not self._context.execute_async_v3(int(self._stream)):
            raise EngineError(f"{self.model_path}: TensorRT inference failed")
        for name in wanted:
            host = self._host[name]
            size = host.array[:count].nbytes
            copy_to_host(host.address, self._device[name].address, size, self._stream)
        call("cudaStreamSynchronize", cudart().cudaStreamSynchronize(self._stream))
        results = {name: self._host[name].array[:count].copy() for name in wanted}
        extras = {name[len(EXTRA_SCORE_PREFIX) :]: results[name] for name in wanted[2:]}
        return EngineOutputs(results[SEMANTIC_OUTPUT], results[SCORE_OUTPUT], extras)

    def close(self) -> None:
        """Free the GPU and pinned buffers and the stream (also at garbage collection)."""
        for pinned in self._host.values():
            pinned.free()
        for buffer in self._device.values():
            buffer.free()
        self._host, self._device = {}, {}
        if getattr(self, "_stream", None) is not None:
            call("cudaStreamDestroy", cudart().cudaStreamDestroy(self._stream))
            self._stream = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit CUDA may already be gone
            self.close()

    def _max_shape(self, name: str) -> tuple[int, ...]:
        height, width = self.contract.input_hw
        if name == INPUT_NAME:
            return (self.max_batch, height, width, 3)
        return (self.max_batch, height, width)

    def _check_io(self, trt: Any) -> None:
        engine = self._engine
        names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
        missing = [name for name in [INPUT_NAME, *self._outputs] if name not in names]
        if missing:
            raise EngineError(f"{self.model_path}: plan has no tensor {missing[0]!r}")
        if engine.get_tensor_mode(INPUT_NAME) != trt.TensorIOMode.INPUT:
            raise EngineError(f"{self.model_path}: {INPUT_NAME!r} is not the plan's input")
        for name in [INPUT_NAME, *self._outputs]:
            got = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            want = np.dtype(_DTYPES.get(name, np.float32))
            if got != want:
                raise EngineError(f"{self.model_path}: tensor {name!r} is {got}, needs {want}")
