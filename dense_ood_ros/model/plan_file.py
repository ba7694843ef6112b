"""TensorRT plan files and their `<plan>.json` sidecar: which paths are plans, and the one
reader and writer of the sidecar, with its version check.

The sidecar carries the contract metadata (so the runtime needs no ONNX to know the classes
and the score) and the engine key (engine/engine_key.py gives it its meaning). Nothing here
imports TensorRT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dense_ood_ros.errors import first_line
from dense_ood_ros.model.errors import PlanSidecarError

#: The suffix of the plans this project writes (`dense-ood build-engine`, the node's cache).
PLAN_SUFFIX = ".plan"
#: File suffixes read as TensorRT plans; every other model file is read as ONNX.
PLAN_SUFFIXES = (PLAN_SUFFIX, ".engine", ".trt")
#: Suffix of the JSON file beside a plan, appended to the plan's whole name.
SIDECAR_SUFFIX = ".json"
#: The sidecar layout this runtime reads and writes.
SIDECAR_VERSION = 1


def is_plan_file(path: str | Path) -> bool:
    """Whether `path` names a TensorRT plan (.plan, .engine, .trt) rather than an ONNX model."""
    return Path(path).suffix in PLAN_SUFFIXES


def plan_metadata_path(plan: str | Path) -> Path:
    """The JSON sidecar beside a plan: `<plan>.json`."""
    plan = Path(plan)
    return plan.with_name(plan.name + SIDECAR_SUFFIX)


@dataclass(frozen=True)
class PlanSidecar:
    """The JSON beside a plan: contract metadata, the engine key's fields (their meaning:
    engine/engine_key.py's EngineKey), the ONNX it was built from."""

    metadata: dict[str, str]
    engine_key: dict[str, Any]
    onnx_path: str  # as it was when built, for a rebuild; may be gone on the vehicle
    build_seconds: float

    def write(self, plan: Path) -> Path:
        """Write this sidecar beside `plan`, stamped with SIDECAR_VERSION; return its path."""
        path = plan_metadata_path(plan)
        stored = {
            "sidecar_version": SIDECAR_VERSION,
            "metadata": self.metadata,
            "engine_key": self.engine_key,
            "onnx_path": self.onnx_path,
            "build_seconds": round(self.build_seconds, 3),
        }
        path.write_text(json.dumps(stored, indent=2) + "\n")
        return path

    @classmethod
    def read(cls, plan: Path) -> PlanSidecar:
        """The sidecar of `plan`; PlanSidecarError (one line) when it is missing, not JSON, of
        another version or malformed."""
        path = plan_metadata_path(plan)
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise PlanSidecarError(
                f"{plan}: no {path.name} beside it (the plan's contract and engine key)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise PlanSidecarError(f"{path}: unreadable plan sidecar ({first_line(exc)})") from exc
        if not isinstance(stored, dict) or "sidecar_version" not in stored:
            raise PlanSidecarError(f"{path}: not a dense_ood plan sidecar (no sidecar_version)")
        version = stored["sidecar_version"]
        if version != SIDECAR_VERSION:
            raise PlanSidecarError(
                f"{path}: plan sidecar version {version!r}, this runtime reads {SIDECAR_VERSION}: "
                "rebuild the plan with `dense-ood build-engine MODEL.onnx`"
            )
        metadata, key = stored.get("metadata"), stored.get("engine_key")
        if not isinstance(metadata, dict):
            raise PlanSidecarError(f"{path}: no 'metadata' object (the plan's contract)")
        if not isinstance(key, dict):
            raise PlanSidecarError(f"{path}: no 'engine_key' object")
        try:
            build_seconds = float(stored.get("build_seconds", 0.0))
        except (TypeError, ValueError) as exc:
            raise PlanSidecarError(f"{path}: 'build_seconds' is not a number") from exc
        return cls(
            metadata={str(k): str(v) for k, v in metadata.items()},
            engine_key=key,
            onnx_path=str(stored.get("onnx_path") or ""),
            build_seconds=build_seconds,
        )
