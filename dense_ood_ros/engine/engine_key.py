"""What a TensorRT plan is valid for, where plans and their timing cache live, and when to
rebuild a plan.

A plan only runs with the TensorRT version that built it, on the GPU model it was tuned for.
Every plan has a sidecar `<plan>.json` (read and written by model/plan_file.py) holding the
contract metadata and its `EngineKey`: the ONNX hash, the TensorRT version, the GPU name and
compute capability, the precision and the input shapes. The node compares that key with the
machine before it deserialises anything, and decides with `plan_decision` whether to use the
plan, rebuild it from its ONNX, or refuse with a reason. Nothing here imports TensorRT or
CUDA, so all of it is tested on any machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dense_ood_ros.engine.errors import EngineError
from dense_ood_ros.model.contract import (
    INPUT_NAME,
    ModelContract,
    precision_of,
    read_onnx_metadata,
)
from dense_ood_ros.model.errors import PlanSidecarError
from dense_ood_ros.model.plan_file import (
    PLAN_SUFFIX,
    PlanSidecar,
    is_plan_file,
    plan_metadata_path,
)

#: The file, beside the plans of one folder, that keeps TensorRT's tactic timings between builds.
TIMING_CACHE_NAME = "timing.cache"


@dataclass(frozen=True)
class Machine:
    """What a plan must match on the machine that runs it."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"

    def describe(self) -> str:
        return (
            f"{self.gpu_name} (compute {self.compute_capability}) "
            f"with TensorRT {self.tensorrt_version}"
        )


@dataclass(frozen=True)
class EngineKey:
    """Everything a plan was built from and for; two equal keys give interchangeable plans."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    input_shapes: dict[str, list[list[int]]]  # input -> [min, opt, max] shapes

    @property
    def machine(self) -> Machine:
        return Machine(self.tensorrt_version, self.gpu_name, self.compute_capability)

    @classmethod
    def build(cls, onnx_sha256: str, machine: Machine, precision: str, shapes: dict) -> EngineKey:
        """The key of a plan built from that ONNX on `machine`."""
        return cls(
            onnx_sha256=onnx_sha256,
            tensorrt_version=machine.tensorrt_version,
            gpu_name=machine.gpu_name,
            compute_capability=machine.compute_capability,
            precision=precision,
            input_shapes=shapes,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> EngineKey:
        try:
            return cls(
                onnx_sha256=str(data["onnx_sha256"]),
                tensorrt_version=str(data["tensorrt_version"]),
                gpu_name=str(data["gpu_name"]),
                compute_capability=str(data["compute_capability"]),
                precision=str(data["precision"]),
                input_shapes={
                    str(k): [[int(d) for d in s] for s in v]
                    for k, v in dict(data["input_shapes"]).items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanSidecarError(f"{source}: malformed engine key ({exc})") from exc

    @classmethod
    def of_plan(cls, plan: Path, sidecar: PlanSidecar | None = None) -> EngineKey:
        """The key a plan was built with, from its sidecar (read here unless given)."""
        sidecar = sidecar if sidecar is not None else PlanSidecar.read(plan)
        return cls.from_dict(sidecar.engine_key, str(plan_metadata_path(plan)))


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks (models are tens to hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_shapes(input_name: str, input_hw: tuple[int, int], max_batch: int) -> dict:
    """The optimisation profile of the contract's input: batch 1 to `max_batch` (cameras)."""
    height, width = input_hw
    return {
        input_name: [
            [1, height, width, 3],
            [max_batch, height, width, 3],
            [max_batch, height, width, 3],
        ]
    }


def cached_plan_path(onnx: Path, precision: str, max_batch: int, cache_dir: Path | None) -> Path:
    """Where the plan built from `onnx` lives: `engine_cache_dir`, or beside the ONNX."""
    folder = cache_dir if cache_dir is not None else onnx.parent
    return folder / f"{onnx.stem}.{precision}.b{max_batch}{PLAN_SUFFIX}"


def timing_cache_path(plan: Path) -> Path:
    """The timing cache a build of `plan` reuses and updates: `timing.cache` in its folder
    (the engine cache, or beside the ONNX), shared by the plans built there."""
    return plan.with_name(TIMING_CACHE_NAME)


def mismatches(expected: EngineKey, found: EngineKey) -> list[str]:
    """What differs between the key a plan needs here and the key it was built with."""
    fields = (
        ("ONNX model", "onnx_sha256"),
        ("TensorRT version", "tensorrt_version"),
        ("GPU", "gpu_name"),
        ("compute capability", "compute_capability"),
        ("precision", "precision"),
        ("input shapes", "input_shapes"),
    )
    differences = []
    for label, name in fields:
        built, here = getattr(found, name), getattr(expected, name)
        if built != here:
            differences.append(
                "the ONNX model changed since the build"
                if name == "onnx_sha256"
                else f"{label} {built} (here: {here})"
            )
    return differences


@dataclass(frozen=True)
class PlanDecision:
    """What the engine loader does with a model path: use a plan, or build one (and why)."""

    action: str  # "use" | "build"
    plan: Path
    onnx: Path | None  # the ONNX to (re)build from; None where there is none
    precision: str
    reason: str


def plan_decision(
    model_path: Path,
    machine: Machine,
    max_batch: int,
    cache_dir: Path | None = None,
    force_rebuild: bool = False,
    precision: str | None = None,
) -> PlanDecision:
    """Decide how to get a plan for `model_path` (an ONNX or a plan) on `machine`.

    An ONNX: its cached plan is used when its key matches, else (re)built. A plan: used when
    built for this machine; otherwise rebuilt from its ONNX when that file is still there and
    unchanged, else refused with an EngineError saying what differs.
    """
    if not is_plan_file(model_path):
        return _decide_for_onnx(model_path, machine, max_batch, cache_dir, force_rebuild, precision)
    if not model_path.is_file():
        raise EngineError(f"{model_path}: no such plan file")
    sidecar = PlanSidecar.read(model_path)
    key = EngineKey.of_plan(model_path, sidecar)
    onnx = Path(sidecar.onnx_path) if sidecar.onnx_path else None
    if onnx is not None and not (onnx.is_file() and sha256_of(onnx) == key.onnx_sha256):
        onnx = None  # gone, or changed since: a rebuild would not give this plan's model
    here = replace(
        key,
        tensorrt_version=machine.tensorrt_version,
        gpu_name=machine.gpu_name,
        compute_capability=machine.compute_capability,
    )
    differences = mismatches(here, key)
    if not differences and not force_rebuild:
        return PlanDecision("use", model_path, onnx, key.precision, "built for this machine")
    why = "; ".join(differences) or "force_engine_rebuild is set"
    if onnx is not None:
        target = cached_plan_path(onnx, key.precision, max_batch, cache_dir) if cache_dir else None
        return PlanDecision(
            "build", target or model_path, onnx, key.precision, f"rebuilding: {why}"
        )
    raise EngineError(
        f"{model_path} cannot run here: it was built for {key.machine.describe()}, this "
        f"machine has {machine.describe()} ({why}), and its ONNX "
        f"({sidecar.onnx_path or 'not recorded'}) is not available to rebuild it: build one "
        "here with `dense-ood build-engine MODEL.onnx`"
    )


def _decide_for_onnx(
    onnx: Path,
    machine: Machine,
    max_batch: int,
    cache_dir: Path | None,
    force_rebuild: bool,
    precision: str | None,
) -> PlanDecision:
    metadata = read_onnx_metadata(onnx)
    contract = ModelContract.from_metadata(metadata, source=str(onnx))
    precision = precision or precision_of(metadata)
    plan = cached_plan_path(onnx, precision, max_batch, cache_dir)
    if force_rebuild:
        return PlanDecision("build", plan, onnx, precision, "force_engine_rebuild is set")
    if not plan.is_file():
        return PlanDecision("build", plan, onnx, precision, "no cached plan yet")
    try:
        found = EngineKey.of_plan(plan)
    except PlanSidecarError as exc:
        reason = f"the cached plan's key is unreadable ({exc})"
        return PlanDecision("build", plan, onnx, precision, reason)
    shapes = input_shapes(INPUT_NAME, contract.input_hw, max_batch)
    expected = EngineKey.build(sha256_of(onnx), machine, precision, shapes)
    differences = mismatches(expected, found)
    if differences:
        reason = "rebuilding: " + "; ".join(differences)
        return PlanDecision("build", plan, onnx, precision, reason)
    return PlanDecision("use", plan, onnx, precision, "cached plan matches")
