"""Where an ONNX model's engine time goes, per operator type, from ONNX Runtime's profiler.

`dense-ood bench --profile-ops` prints it; it is how the INT8 operator choice of
`dense-ood quantize` was made (docs/engines.md). Times are kernel times summed over the timed
runs, per run; the warm-up run before them is profiled too, and left out. Q/DQ models show
their QLinear* and (De)QuantizeLinear kernels here too.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.errors import DenseOodError


class ProfileError(DenseOodError, ValueError):
    """A profile without a timed run after its warm-up."""


@dataclass
class OperatorTime:
    op_type: str
    ms_per_run: float
    share: float  # of all kernel time, 0..1
    nodes: int


def profile_operators(model: Path, images: np.ndarray, runs: int = 30) -> list[OperatorTime]:
    """Run `images` through `model` `runs` times with the profiler on; slowest first."""
    from dense_ood_ros.engine.onnxruntime_backend import OnnxRuntimeEngine

    with tempfile.TemporaryDirectory(prefix="dense_ood_profile_") as tmp:
        engine = OnnxRuntimeEngine(model, profile_prefix=str(Path(tmp) / "ort"))
        engine.infer(images, extra_scores=False)  # warm-up: profiled too, left out below
        for _ in range(runs):
            engine.infer(images, extra_scores=False)
        events = json.loads(engine.end_profiling().read_text())
    return operator_times(events)


def operator_times(events: list[dict[str, Any]]) -> list[OperatorTime]:
    """Per-operator kernel time per run from an ONNX Runtime profile, without its first run
    (the warm-up: allocations and first-touch costs); slowest first."""
    runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    if len(runs) < 2:
        raise ProfileError(f"the profile holds {len(runs)} model runs: a warm-up and 1 or more")
    timed_from = runs[1]  # kernels of the warm-up run start before the second run does
    totals: Counter[str] = Counter()
    nodes: dict[str, set[str]] = {}
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        if event["ts"] < timed_from:
            continue
        op_type = event["args"]["op_name"]
        totals[op_type] += event["dur"]
        nodes.setdefault(op_type, set()).add(event["name"])
    overall = sum(totals.values()) or 1
    timed_runs = len(runs) - 1
    return [
        OperatorTime(op, micros / timed_runs / 1e3, micros / overall, len(nodes[op]))
        for op, micros in totals.most_common()
    ]


def format_profile(rows: list[OperatorTime], model: Path, top: int = 15) -> str:
    total = sum(row.ms_per_run for row in rows)
    lines = [
        f"{model.name}: {total:.2f} ms of kernel time per run",
        "| operator | nodes | ms per run | share |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r.op_type} | {r.nodes} | {r.ms_per_run:.2f} | {100 * r.share:.1f}% |"
        for r in rows[:top]
    ]
    if len(rows) > top:
        rest = rows[top:]
        lines.append(
            f"| {len(rest)} others | {sum(r.nodes for r in rest)} "
            f"| {sum(r.ms_per_run for r in rest):.2f} | {100 * sum(r.share for r in rest):.1f}% |"
        )
    return "\n".join(lines)
