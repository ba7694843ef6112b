"""`dense-ood bench --profile-ops`: per-operator kernel time per run from ONNX Runtime's real
profiler, with the warm-up run left out as its docstring says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import TINY_INPUT_HW

from dense_ood_ros.engine.onnxruntime_backend import OnnxRuntimeEngine
from dense_ood_ros.tools.op_profile import ProfileError, operator_times, profile_operators

TIMED_RUNS = 3


def _images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (1, *TINY_INPUT_HW, 3), dtype=np.uint8)


def _is_kernel(event: dict[str, Any]) -> bool:
    return event.get("cat") == "Node" and event["name"].endswith("_kernel_time")


@pytest.fixture
def events(tiny_model: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """A real profile: one warm-up run, then TIMED_RUNS runs."""
    engine = OnnxRuntimeEngine(tiny_model, profile_prefix=str(tmp_path / "ort"))
    for _ in range(1 + TIMED_RUNS):
        engine.infer(_images(), extra_scores=False)
    return json.loads(engine.end_profiling().read_text())


def _second_run_start(events: list[dict[str, Any]]) -> int:
    return sorted(e["ts"] for e in events if e.get("name") == "model_run")[1]


def test_the_warm_up_run_is_left_out(events: list[dict[str, Any]]) -> None:
    rows = operator_times(events)
    timed_from = _second_run_start(events)
    slow_warm_up = [
        {**e, "dur": e["dur"] * 1000 + 10**6} if _is_kernel(e) and e["ts"] < timed_from else e
        for e in events
    ]
    assert operator_times(slow_warm_up) == rows  # a slower warm-up changes nothing


def test_times_are_per_timed_run(events: list[dict[str, Any]]) -> None:
    rows = operator_times(events)
    timed = [e for e in events if _is_kernel(e) and e["ts"] >= _second_run_start(events)]
    assert len(timed) == TIMED_RUNS * sum(row.nodes for row in rows)  # every node, every run
    total_ms = sum(e["dur"] for e in timed) / 1e3
    assert sum(row.ms_per_run for row in rows) == pytest.approx(total_ms / TIMED_RUNS)
    assert sum(row.share for row in rows) == pytest.approx(1.0)
    assert [row.ms_per_run for row in rows] == sorted((r.ms_per_run for r in rows), reverse=True)
    assert {"Conv", "ArgMax"} <= {row.op_type for row in rows}


def test_profile_operators_and_a_profile_without_timed_runs(tiny_model: Path, events) -> None:
    rows = profile_operators(tiny_model, _images(), runs=2)
    assert rows and all(row.ms_per_run > 0 and row.nodes >= 1 for row in rows)
    warm_up_only = [e for e in events if e["ts"] < _second_run_start(events)]
    with pytest.raises(ProfileError, match="holds 1 model runs"):
        operator_times(warm_up_only)
