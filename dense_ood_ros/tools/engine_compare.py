"""Engines side by side on the same frames: latency, semantic agreement and score difference.

`dense-ood bench --against ...` uses this to compare an INT8 model with its FP32 original, or
the TensorRT backend with ONNX Runtime. The first engine is the reference. Engines are timed
interleaved, the order rotating every round, so machine load touches each alike; the ratios
are the meaningful numbers, measured in one run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dense_ood_ros.engine import BACKENDS, Engine, load_engine
from dense_ood_ros.errors import DenseOodError


@dataclass(frozen=True)
class EngineSpec:
    """One engine to compare: a model file and the backend that runs it."""

    model: Path
    backend: str


@dataclass
class EngineComparison:
    """One engine's figures against the reference (the first engine)."""

    label: str
    precision: str
    median_ms: float
    p95_ms: float
    speedup: float  # reference median / this median
    agreement: float  # share of pixels with the reference's class, 0..1
    score_mean_abs: float
    score_max_abs: float


def parse_spec(text: str, model: Path, backend: str) -> EngineSpec:
    """`PATH`, `BACKEND` or `BACKEND:PATH`; what is left out is the reference's."""
    name, sep, path = text.partition(":")
    if sep and name in BACKENDS:
        return EngineSpec(Path(path), name)
    if text in BACKENDS:
        return EngineSpec(model, text)
    return EngineSpec(Path(text), backend)


def compare_engines(
    specs: list[EngineSpec],
    frames: list[np.ndarray],
    iterations: int = 30,
    warmup: int = 3,
    batch: int = 1,
) -> list[EngineComparison]:
    """Load every engine, check they share a contract, then measure them on `frames`."""
    engines = [load_engine(spec.model, spec.backend, max_batch=batch) for spec in specs]
    _check_same_contract(specs, engines)
    images = np.stack(frames)
    reference = engines[0].infer(images, extra_scores=False)
    timed_batch = images[np.arange(batch) % len(images)]  # as many frames as asked, repeating
    timed = _interleaved_ms(engines, timed_batch, iterations, warmup)
    base = float(np.median(timed[0]))
    rows = []
    for spec, engine, ms in zip(specs, engines, timed, strict=True):
        outputs = engine.infer(images, extra_scores=False)
        difference = np.abs(outputs.score - reference.score)
        median = float(np.median(ms))
        rows.append(
            EngineComparison(
                label=f"{spec.model.name} ({engine.backend_name})",
                precision=engine.precision,
                median_ms=median,
                p95_ms=float(np.percentile(ms, 95)),
                speedup=base / median,
                agreement=float(np.mean(outputs.semantic == reference.semantic)),
                score_mean_abs=float(difference.mean()),
                score_max_abs=float(difference.max()),
            )
        )
    return rows


def format_comparison(rows: list[EngineComparison], frames: int, batch: int) -> str:
    lines = [
        "| engine | precision | median ms | p95 ms | speed-up | semantic agreement "
        "| score diff mean / max |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.precision} | {row.median_ms:.2f} | {row.p95_ms:.2f} "
            f"| {row.speedup:.2f}x | {100 * row.agreement:.2f}% "
            f"| {row.score_mean_abs:.4f} / {row.score_max_abs:.4f} |"
        )
    lines.append(
        f"(engine calls of batch {batch}, interleaved; agreement and score differences against "
        f"the first engine on {frames} frames)"
    )
    return "\n".join(lines)


def _check_same_contract(specs: list[EngineSpec], engines: list[Engine]) -> None:
    first = engines[0].contract
    for spec, engine in zip(specs[1:], engines[1:], strict=True):
        other = engine.contract
        if (other.input_hw, other.class_names, other.score) != (
            first.input_hw,
            first.class_names,
            first.score,
        ):
            raise DenseOodError(
                f"{spec.model} is not comparable with {specs[0].model}: input size, classes or "
                "score differ"
            )


def _interleaved_ms(
    engines: list[Engine], batch: np.ndarray, iterations: int, warmup: int
) -> list[list[float]]:
    timed: list[list[float]] = [[] for _ in engines]
    for round_index in range(warmup + iterations):
        shift = round_index % len(engines)
        for index in [*range(shift, len(engines)), *range(shift)]:
            start = time.perf_counter()
            engines[index].infer(batch, extra_scores=False)
            if round_index >= warmup:
                timed[index].append((time.perf_counter() - start) * 1e3)
    return timed
