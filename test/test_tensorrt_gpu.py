"""The TensorRT backend on a real GPU: build, cache, rebuild, parity with ONNX Runtime.

Marked `gpu`; skipped wherever TensorRT, cuda-python or an NVIDIA GPU is missing (CI and the
development machines). scripts/gpu_check.sh runs the same path on the bundled model.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_INPUT_HW

from dense_ood_ros.engine import load_engine, tensorrt_unavailable

REASON = tensorrt_unavailable()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(REASON is not None, reason=str(REASON))]


@pytest.fixture
def onnx(tiny_model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tiny.onnx"
    shutil.copy(tiny_model, copy)
    return copy


def _frames(count: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, *TINY_INPUT_HW, 3), dtype=np.uint8)


def _parity(model: Path, engine, min_agreement: float, max_score_diff: float) -> None:
    images = _frames(5)  # more than the profile's batch of 2: run in chunks
    reference = load_engine(model, "onnxruntime").infer(images)
    outputs = engine.infer(images)
    assert np.mean(outputs.semantic == reference.semantic) >= min_agreement
    assert np.abs(outputs.score - reference.score).mean() <= max_score_diff
    assert set(outputs.extra_scores) == set(reference.extra_scores)


def test_fp32_plan_is_built_cached_and_matches_onnxruntime(onnx: Path, tmp_path: Path, caplog):
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="dense_ood_ros.engine"):
        engine = load_engine(onnx, "tensorrt", max_batch=2, engine_cache_dir=cache)
    assert engine.backend_name == "tensorrt" and engine.precision == "fp32"
    assert any("no cached plan yet" in r.getMessage() for r in caplog.records)
    _parity(onnx, engine, 0.995, 1e-3)
    plan = cache / "tiny.fp32.b2.plan"
    built = plan.stat().st_mtime_ns
    timings = cache / "timing.cache"  # the node's build wrote its timing cache beside the plan
    assert timings.stat().st_size > 0
    again = load_engine(onnx, "tensorrt", max_batch=2, engine_cache_dir=cache)
    assert plan.stat().st_mtime_ns == built  # the cached plan, not a new build
    _parity(onnx, again, 0.995, 1e-3)


def test_stale_plan_is_rebuilt(onnx: Path, tmp_path: Path) -> None:
    load_engine(onnx, "tensorrt", max_batch=2, engine_cache_dir=tmp_path)
    plan = tmp_path / "tiny.fp32.b2.plan"
    plan.write_bytes(b"a plan from another TensorRT")  # the key still matches; bytes do not load
    timings = (tmp_path / "timing.cache").read_bytes()
    engine = load_engine(onnx, "tensorrt", max_batch=2, engine_cache_dir=tmp_path)
    _parity(onnx, engine, 0.995, 1e-3)
    assert plan.stat().st_size > 100
    assert len((tmp_path / "timing.cache").read_bytes()) >= len(timings)  # reused, not reset


def test_int8_qdq_model_builds(int8_tiny_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "tiny_int8.onnx"
    shutil.copy(int8_tiny_model, model)
    engine = load_engine(model, "tensorrt", max_batch=2)
    assert engine.precision == "int8"
    _parity(model, engine, 0.97, 5e-2)  # against the same Q/DQ model in ONNX Runtime


def test_fp16_plan(onnx: Path) -> None:
    from dense_ood_ros.engine.tensorrt_build import import_tensorrt, tensorrt_major

    if tensorrt_major(import_tensorrt()) >= 11:
        pytest.skip("TensorRT 11 builds FP16 only from an FP16 ONNX")
    engine = load_engine(onnx, "tensorrt", max_batch=2, precision="fp16")
    assert engine.precision == "fp16"
    _parity(onnx, engine, 0.995, 1e-2)
