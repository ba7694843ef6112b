"""The few CUDA runtime calls the TensorRT path needs, through cuda-python (no torch, no pycuda).

cuda-python mirrors the C API: every call returns (error, *values). `call` turns a failed
one into an EngineError naming the call. Device buffers and pinned host buffers are plain
integers (addresses); `PinnedArray` views pinned memory as a numpy array.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from dense_ood_ros.engine.base import EngineError
from dense_ood_ros.engine.engine_key import Machine


def cudart() -> Any:
    """cuda-python's runtime module (its layout moved in cuda-python 12.6)."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime
        except ImportError as exc:
            raise EngineError(
                f"the TensorRT backend needs cuda-python (pip install cuda-python): {exc}"
            ) from exc
    return runtime


def call(name: str, result: Any) -> Any:
    """The value(s) of a cuda-python call; EngineError when it returned an error."""
    runtime = cudart()
    error, *values = result if isinstance(result, tuple) else (result,)
    if error != runtime.cudaError_t.cudaSuccess:
        _, text = runtime.cudaGetErrorString(error)
        message = text.decode() if isinstance(text, bytes) else str(text)
        raise EngineError(f"CUDA {name} failed: {message}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def this_machine(tensorrt_version: str) -> Machine:
    """The current GPU and TensorRT version; EngineError where there is no usable GPU."""
    runtime = cudart()
    error, count = runtime.cudaGetDeviceCount()
    if error != runtime.cudaError_t.cudaSuccess or count < 1:
        raise EngineError("no NVIDIA GPU is visible (no device, or no driver)")
    device = call("cudaGetDevice", runtime.cudaGetDevice())
    props = call("cudaGetDeviceProperties", runtime.cudaGetDeviceProperties(device))
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else props.name
    return Machine(tensorrt_version, name.rstrip("\x00"), f"{props.major}.{props.minor}")


class DeviceBuffer:
    """`nbytes` of device memory, freed with `free()`."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.address = int(call("cudaMalloc", cudart().cudaMalloc(nbytes)))

    def free(self) -> None:
        if self.address:
            call("cudaFree", cudart().cudaFree(self.address))
            self.address = 0


class PinnedArray:
    """A page-locked host array, so copies to and from the GPU run asynchronously at full speed."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.address = int(call("cudaMallocHost", cudart().cudaMallocHost(nbytes)))
        raw = memoryview((ctypes.c_uint8 * nbytes).from_address(self.address)).cast("B")
        self.array = np.frombuffer(raw, dtype=dtype).reshape(shape)

    def free(self) -> None:
        if self.address:
            call("cudaFreeHost", cudart().cudaFreeHost(self.address))
            self.address = 0


def copy_to_device(device: int, host: int, nbytes: int, stream: Any) -> None:
    kind = cudart().cudaMemcpyKind.cudaMemcpyHostToDevice
    call("cudaMemcpyAsync", cudart().cudaMemcpyAsync(device, host, nbytes, kind, stream))


def copy_to_host(host: int, device: int, nbytes: int, stream: Any) -> None:
    kind = cudart().cudaMemcpyKind.cudaMemcpyDeviceToHost
    call("cudaMemcpyAsync", cudart().cudaMemcpyAsync(host, device, nbytes, kind, stream))
