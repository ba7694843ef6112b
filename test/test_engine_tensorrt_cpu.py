"""The TensorRT path as far as a machine without a GPU can take it: engine keys, the sidecar,
when a plan is used, rebuilt or refused, the timing cache a build uses, the `auto` fallback,
and the clear errors.

The decisions take the machine (TensorRT version, GPU) as an argument, so a plan "built for
another GPU" is a real sidecar written by our code, read back by our code; no TensorRT runs.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from dense_ood_ros.engine import (
    EngineError,
    PlanSidecarError,
    build_options,
    load_engine,
    tensorrt_unavailable,
)
from dense_ood_ros.engine.engine_key import (
    EngineKey,
    Machine,
    cached_plan_path,
    input_shapes,
    plan_decision,
    sha256_of,
)
from dense_ood_ros.engine.tensorrt_build import (
    attach_timing_cache,
    network_recipe,
    save_timing_cache,
)
from dense_ood_ros.model.contract import (
    INPUT_NAME,
    KEY_THRESHOLD,
    read_contract,
    read_onnx_metadata,
    write_onnx_metadata,
)
from dense_ood_ros.model.plan_file import PlanSidecar

H200 = Machine("10.8.0", "NVIDIA H200", "9.0")
ORIN = Machine("10.3.0", "Orin", "8.7")
NO_TENSORRT = tensorrt_unavailable() is not None


def _key(onnx: Path, machine: Machine, precision: str = "fp32", max_batch: int = 1) -> EngineKey:
    shapes = input_shapes(INPUT_NAME, read_contract(onnx).input_hw, max_batch)
    return EngineKey.build(sha256_of(onnx), machine, precision, shapes)


def _fake_build(onnx: Path, plan: Path, machine: Machine, max_batch: int = 1) -> None:
    """What build_plan leaves behind, without TensorRT: plan bytes and our sidecar."""
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_bytes(b"serialized engine")
    metadata = read_onnx_metadata(onnx)
    key = _key(onnx, machine, max_batch=max_batch)
    PlanSidecar(metadata, asdict(key), str(onnx), 61.0).write(plan)


@pytest.fixture
def onnx(tiny_model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "models" / "tiny.onnx"
    copy.parent.mkdir()
    shutil.copy(tiny_model, copy)
    return copy


def test_sidecar_round_trip(onnx: Path) -> None:
    plan = onnx.with_name("tiny.plan")
    _fake_build(onnx, plan, H200, max_batch=3)
    sidecar = PlanSidecar.read(plan)
    key = EngineKey.of_plan(plan, sidecar)
    assert key == _key(onnx, H200, max_batch=3)
    assert key.input_shapes == {INPUT_NAME: [[1, 64, 96, 3], [3, 64, 96, 3], [3, 64, 96, 3]]}
    assert sidecar.metadata == read_onnx_metadata(onnx)
    assert (sidecar.onnx_path, sidecar.build_seconds) == (str(onnx), 61.0)
    assert read_contract(plan).class_names == read_contract(onnx).class_names


def test_onnx_plan_is_built_then_cached_then_rebuilt_on_change(onnx: Path) -> None:
    first = plan_decision(onnx, H200, max_batch=2)
    assert (first.action, first.reason) == ("build", "no cached plan yet")
    assert first.plan == onnx.parent / "tiny.fp32.b2.plan" and first.onnx == onnx
    _fake_build(onnx, first.plan, H200, max_batch=2)
    assert plan_decision(onnx, H200, max_batch=2).action == "use"

    forced = plan_decision(onnx, H200, max_batch=2, force_rebuild=True)
    assert (forced.action, forced.reason) == ("build", "force_engine_rebuild is set")
    other_gpu = plan_decision(onnx, ORIN, max_batch=2)
    assert other_gpu.action == "build"
    assert "TensorRT version 10.8.0 (here: 10.3.0)" in other_gpu.reason
    assert "GPU NVIDIA H200 (here: Orin)" in other_gpu.reason
    assert plan_decision(onnx, H200, max_batch=4).plan != first.plan  # another profile

    write_onnx_metadata(onnx, {KEY_THRESHOLD: "0.7"})  # another model under the same name
    changed = plan_decision(onnx, H200, max_batch=2)
    assert changed.action == "build" and "the ONNX model changed" in changed.reason


def test_engine_cache_dir_and_unreadable_cached_key(onnx: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    decision = plan_decision(onnx, H200, max_batch=1, cache_dir=cache, precision="fp16")
    assert decision.plan == cache / "tiny.fp16.b1.plan" == cached_plan_path(onnx, "fp16", 1, cache)
    decision.plan.parent.mkdir()
    decision.plan.write_bytes(b"engine")
    decision.plan.with_name(decision.plan.name + ".json").write_text("{not json")
    again = plan_decision(onnx, H200, max_batch=1, cache_dir=cache, precision="fp16")
    assert again.action == "build" and "unreadable" in again.reason


def test_plan_for_another_gpu_is_rebuilt_from_its_onnx_or_refused(onnx: Path) -> None:
    plan = onnx.with_name("deployed.plan")
    _fake_build(onnx, plan, ORIN)
    assert plan_decision(plan, ORIN, max_batch=1).action == "use"
    rebuild = plan_decision(plan, H200, max_batch=1)
    assert (rebuild.action, rebuild.onnx, rebuild.plan) == ("build", onnx, plan)
    assert "GPU Orin (here: NVIDIA H200); compute capability 8.7 (here: 9.0)" in rebuild.reason
    assert "TensorRT version 10.3.0 (here: 10.8.0)" in rebuild.reason

    onnx.unlink()
    with pytest.raises(EngineError) as info:
        plan_decision(plan, H200, max_batch=1)
    message = str(info.value)
    assert "\n" not in message
    assert "built for Orin (compute 8.7) with TensorRT 10.3.0" in message
    assert "this machine has NVIDIA H200 (compute 9.0) with TensorRT 10.8.0" in message
    assert "not available to rebuild it" in message


def test_plan_without_or_with_a_broken_sidecar(tmp_path: Path) -> None:
    plan = tmp_path / "lonely.plan"
    with pytest.raises(EngineError, match="no such plan file"):
        plan_decision(plan, H200, max_batch=1)
    plan.write_bytes(b"engine")
    with pytest.raises(PlanSidecarError, match=r"no lonely\.plan\.json beside it"):
        plan_decision(plan, H200, max_batch=1)
    sidecar = plan.with_name("lonely.plan.json")
    sidecar.write_text('{"sidecar_version": 1, "metadata": {}, "engine_key": {"gpu_name": 1}}')
    with pytest.raises(PlanSidecarError, match=r"lonely\.plan\.json: malformed engine key"):
        plan_decision(plan, H200, max_batch=1)
    sidecar.write_text('{"sidecar_version": 2, "metadata": {}, "engine_key": {}}')
    with pytest.raises(PlanSidecarError, match="plan sidecar version 2, this runtime reads 1"):
        plan_decision(plan, H200, max_batch=1)


@pytest.mark.parametrize("suffix", [".plan", ".engine", ".trt"])
def test_every_plan_suffix_is_a_plan_to_every_reader(onnx: Path, suffix: str) -> None:
    plan = onnx.with_name(f"deployed{suffix}")
    _fake_build(onnx, plan, ORIN)
    assert read_contract(plan).class_names == read_contract(onnx).class_names
    assert plan_decision(plan, ORIN, max_batch=1).action == "use"
    with pytest.raises(EngineError, match=r"is a TensorRT plan: ONNX Runtime runs \.onnx"):
        load_engine(plan, "onnxruntime")


def test_node_builds_use_the_timing_cache_of_the_plan_folder(onnx: Path, tmp_path: Path) -> None:
    first = plan_decision(onnx, H200, max_batch=2)
    assert build_options(first, 2).timing_cache == onnx.parent / "timing.cache"
    assert (build_options(first, 2).precision, build_options(first, 2).max_batch) == ("fp32", 2)
    cache = tmp_path / "engine_cache"
    cached = plan_decision(onnx, H200, max_batch=1, cache_dir=cache, precision="fp16")
    assert build_options(cached, 1).timing_cache == cache / "timing.cache"
    deployed = tmp_path / "deployed" / "model.plan"
    _fake_build(onnx, deployed, ORIN)
    rebuild = plan_decision(deployed, H200, max_batch=1)  # another GPU: rebuilt in place
    assert rebuild.action == "build"
    assert build_options(rebuild, 1).timing_cache == deployed.parent / "timing.cache"


class _TimingCache:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self) -> memoryview:
        return memoryview(self.data + b"|this build's timings")


class _BuilderConfig:
    """The timing-cache calls of TensorRT 10's IBuilderConfig, not TensorRT itself:
    create_timing_cache raises on bytes it cannot parse, set_timing_cache returns False for a
    cache of another GPU. test_tensorrt_gpu.py checks the real file on a GPU."""

    def __init__(self) -> None:
        self.cache: _TimingCache | None = None

    def create_timing_cache(self, data: bytes) -> _TimingCache:
        if data.startswith(b"corrupt"):
            raise RuntimeError("cannot deserialize the timing cache")
        return _TimingCache(bytes(data))

    def set_timing_cache(self, cache: _TimingCache, ignore_mismatch: bool) -> bool:
        assert ignore_mismatch is False  # timings of another GPU would mislead the builder
        if cache.data.startswith(b"other GPU"):
            return False
        self.cache = cache
        return True

    def get_timing_cache(self) -> _TimingCache | None:
        return self.cache


def test_timing_cache_file_is_started_reused_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "timing.cache"
    first = _BuilderConfig()
    assert attach_timing_cache(first, path) is False  # no file yet: an empty cache
    assert first.cache is not None and first.cache.data == b""
    save_timing_cache(first, path)
    assert path.read_bytes() == b"|this build's timings"

    second = _BuilderConfig()
    assert attach_timing_cache(second, path) is True
    assert second.cache is not None and second.cache.data == b"|this build's timings"
    save_timing_cache(second, path)
    assert path.read_bytes() == b"|this build's timings|this build's timings"

    for stale in (b"other GPU's timings", b"corrupt bytes"):
        path.write_bytes(stale)
        config = _BuilderConfig()
        assert attach_timing_cache(config, path) is False
        assert config.cache is not None and config.cache.data == b""
        save_timing_cache(config, path)
        assert path.read_bytes() == b"|this build's timings"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["timing.cache"]  # no partial file


@pytest.mark.parametrize(
    ("major", "onnx_precision", "precision", "recipe_or_error"),
    [
        (10, "fp32", "fp32", "fp32"),
        (10, "fp32", "fp16", "fp16-flag"),
        (10, "fp32", "int8", "int8-calibrate"),
        (10, "int8", "int8", "strong"),
        (11, "fp16", "fp16", "strong"),
        (11, "int8", "int8", "strong"),
        (11, "fp32", "fp16", "FP16 ONNX \\(dense-ood-train export --fp16\\)"),
        (11, "fp32", "int8", "the Q/DQ model of `dense-ood quantize`"),
        (10, "int8", "fp16", "this ONNX is int8; it builds a int8 engine only"),
    ],
)
def test_what_each_tensorrt_version_builds(major, onnx_precision, precision, recipe_or_error):
    if recipe_or_error in ("fp32", "fp16-flag", "int8-calibrate", "strong"):
        assert network_recipe(major, onnx_precision, precision) == recipe_or_error
    else:
        with pytest.raises(EngineError, match=recipe_or_error):
            network_recipe(major, onnx_precision, precision)


@pytest.mark.skipif(not NO_TENSORRT, reason="TensorRT and a GPU are present: auto takes them")
def test_auto_falls_back_to_onnxruntime_with_one_warning(tiny_model: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="dense_ood_ros.engine"):
        engine = load_engine(tiny_model, "auto")
    assert engine.backend_name == "onnxruntime"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("backend auto: TensorRT is not used (")
    assert warnings[0].endswith("); running ONNX Runtime")
    caplog.clear()
    assert load_engine(tiny_model, "onnxruntime").backend_name == "onnxruntime"
    assert not caplog.records  # asked for ONNX Runtime: nothing to warn about


@pytest.mark.skipif(not NO_TENSORRT, reason="TensorRT and a GPU are present")
def test_clear_errors_without_tensorrt_or_gpu(tiny_model: Path, tmp_path: Path) -> None:
    reason = tensorrt_unavailable()
    assert reason and "\n" not in reason
    known = (
        "the tensorrt package is not installed",
        "no NVIDIA GPU is visible",
        "the TensorRT backend needs cuda-python",
    )
    assert reason.startswith(known)
    with pytest.raises(EngineError) as info:
        load_engine(tiny_model, "tensorrt")
    message = str(info.value)
    assert "\n" not in message
    assert "TensorRT is not installed here" in message or message in reason
    plan = tmp_path / "model.plan"
    _fake_build(tiny_model, plan, H200)
    with pytest.raises(EngineError, match="is a TensorRT plan, but TensorRT cannot run here"):
        load_engine(plan, "auto")
    with pytest.raises(EngineError, match=r"ONNX Runtime runs \.onnx models only"):
        load_engine(plan, "onnxruntime")
