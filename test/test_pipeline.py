"""The ROS-free pipeline on a real contract model: sizes, values, colours, thresholds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from conftest import TINY_INPUT_HW

from dense_ood_ros.codec.resize import resize_to
from dense_ood_ros.engine import load_engine
from dense_ood_ros.pipeline.frame_pipeline import FrameError, FrameResult, Pipeline
from dense_ood_ros.pipeline.render import colorize

HEIGHT, WIDTH = TINY_INPUT_HW


@pytest.fixture(scope="module")
def pipeline(tiny_model: Path) -> Pipeline:
    return Pipeline(load_engine(tiny_model, "onnxruntime"))


@pytest.fixture(scope="module")
def session(tiny_model: Path) -> ort.InferenceSession:
    """A plain ONNX Runtime session: the reference the pipeline must agree with."""
    return ort.InferenceSession(str(tiny_model), providers=["CPUExecutionProvider"])


def _frame(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    noise = rng.integers(-25, 26, (height, width, 3))
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def _check_sizes(result: FrameResult, height: int, width: int) -> None:
    assert result.semantic.shape == (height, width) and result.semantic.dtype == np.uint8
    assert result.score.shape == (height, width) and result.score.dtype == np.float32
    assert result.mask.shape == (height, width) and result.mask.dtype == np.uint8
    assert result.color.shape == (height, width, 3) and result.color.dtype == np.uint8
    assert result.overlay.shape == (height, width, 3) and result.overlay.dtype == np.uint8


@pytest.mark.parametrize(("height", "width"), [(90, 130), (40, 50), (128, 192), (37, 300)])
def test_outputs_at_the_camera_size(pipeline, rng, height: int, width: int) -> None:
    result = pipeline.process(_frame(rng, height, width), extra_scores=True)
    _check_sizes(result, height, width)
    assert set(np.unique(result.mask)) <= {0, 255}
    np.testing.assert_array_equal(result.mask, np.where(result.score >= pipeline.threshold, 255, 0))
    assert result.semantic.max() < pipeline.contract.num_classes
    np.testing.assert_array_equal(
        result.color, colorize(result.semantic, pipeline.contract.palette)
    )
    assert set(result.extra_scores) == set(pipeline.contract.extra_scores)
    for values in result.extra_scores.values():
        assert values.shape == (height, width) and values.dtype == np.float32
    assert {"preprocess", "engine", "postprocess", "color", "overlay", "total"} <= set(
        result.timings_ms
    )


def test_camera_at_model_size_equals_a_direct_run(pipeline, session, rng) -> None:
    frame = _frame(rng, HEIGHT, WIDTH)
    semantic, score = session.run(["semantic", "anomaly_score"], {"image": frame[None]})
    result = pipeline.process(frame)
    np.testing.assert_array_equal(result.semantic, semantic[0])
    np.testing.assert_allclose(result.score, score[0], rtol=1e-5, atol=1e-6)
    palette = pipeline.contract.palette
    np.testing.assert_array_equal(result.color, palette[semantic[0]])  # the model's palette


def test_twice_the_model_size_is_area_down_and_nearest_up(pipeline, session, rng) -> None:
    frame = _frame(rng, 2 * HEIGHT, 2 * WIDTH)
    small = cv2.resize(frame, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    semantic, score = session.run(["semantic", "anomaly_score"], {"image": small[None]})
    result = pipeline.process(frame, color=False, overlay=False)
    for dy in (0, 1):
        for dx in (0, 1):
            np.testing.assert_array_equal(result.semantic[dy::2, dx::2], semantic[0])
    upsampled = cv2.resize(score[0], (2 * WIDTH, 2 * HEIGHT), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(result.score, upsampled, rtol=1e-5, atol=1e-6)


def test_outputs_at_the_model_size_are_the_engine_outputs(tiny_model, session, rng) -> None:
    at_model = Pipeline(load_engine(tiny_model, "onnxruntime"), output_size="model")
    frame = _frame(rng, 2 * HEIGHT, 3 * WIDTH)
    small = resize_to(frame, (HEIGHT, WIDTH))
    semantic, score = session.run(["semantic", "anomaly_score"], {"image": small[None]})
    result = at_model.process(frame, extra_scores=True)
    _check_sizes(result, HEIGHT, WIDTH)
    np.testing.assert_array_equal(result.semantic, semantic[0])
    np.testing.assert_allclose(result.score, score[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.mask, np.where(result.score >= at_model.threshold, 255, 0))
    assert all(v.shape == (HEIGHT, WIDTH) for v in result.extra_scores.values())
    with pytest.raises(ValueError, match="output_size must be one of camera, model"):
        Pipeline(load_engine(tiny_model, "onnxruntime"), output_size="half")


def test_a_batch_of_cameras_equals_one_by_one(pipeline, rng) -> None:
    frames = [_frame(rng, 90, 130), _frame(rng, HEIGHT, WIDTH), _frame(rng, 37, 300)]
    batch = pipeline.process_batch(frames, [True, False, True], [True, True, False], True)
    for frame, result, (color, overlay) in zip(
        frames, batch, [(True, True), (False, True), (True, False)], strict=True
    ):
        alone = pipeline.process(frame, color=color, overlay=overlay, extra_scores=True)
        np.testing.assert_array_equal(result.semantic, alone.semantic)
        np.testing.assert_allclose(result.score, alone.score, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(result.mask, alone.mask)
        assert (result.color is None) == (alone.color is None)
        assert (result.overlay is None) == (alone.overlay is None)
        assert set(result.extra_scores) == set(alone.extra_scores)
        assert result.timings_ms["engine"] == batch[0].timings_ms["engine"]  # one call


def test_colour_and_overlay_only_when_asked(pipeline, rng) -> None:
    frame = _frame(rng, 50, 70)
    result = pipeline.process(frame, color=False, overlay=False)
    assert result.color is None and result.overlay is None and result.extra_scores == {}
    assert "color" not in result.timings_ms and "overlay" not in result.timings_ms
    only_overlay = pipeline.process(frame, color=False, overlay=True)
    assert only_overlay.color is None and only_overlay.overlay.shape == (50, 70, 3)


def test_threshold_defaults_to_the_model_and_can_change(tiny_model, rng) -> None:
    engine = load_engine(tiny_model, "onnxruntime")
    assert Pipeline(engine).threshold == pytest.approx(engine.contract.threshold)
    frame = _frame(rng, 30, 40)
    pipeline = Pipeline(engine, threshold=0.0)
    assert (pipeline.process(frame).mask == 255).all()  # scores are >= 0
    pipeline.threshold = 1.5
    result = pipeline.process(frame)
    assert (result.mask == 0).all()
    assert not np.array_equal(result.overlay, pipeline.process(frame, overlay=True).color)
    with pytest.raises(ValueError, match="finite"):
        pipeline.threshold = float("nan")


def test_anomalies_are_marked_in_the_overlay(tiny_model, rng) -> None:
    engine = load_engine(tiny_model, "onnxruntime")
    frame = _frame(rng, 60, 80)
    plain = Pipeline(engine, threshold=2.0).process(frame)
    marked = Pipeline(engine, threshold=0.0).process(frame)
    np.testing.assert_array_equal(plain.color, marked.color)
    expected = cv2.addWeighted(frame, 0.5, plain.color, 0.5, 0.0)
    np.testing.assert_array_equal(plain.overlay, expected)
    assert np.abs(marked.overlay.astype(int) - plain.overlay).mean() > 10


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10), np.uint8),
        np.zeros((0, 10, 3), np.uint8),
    ],
)
def test_rejects_bad_frames(pipeline, frame) -> None:
    with pytest.raises(ValueError, match="frame must"):
        pipeline.process(frame)


def test_resize_to_keeps_frames_at_the_right_size(rng) -> None:
    frame = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    assert resize_to(frame, (64, 96)) is frame  # no copy when nothing changes
    assert resize_to(frame[:, ::-1], (64, 96)).flags.c_contiguous
    np.testing.assert_array_equal(
        resize_to(frame, (32, 48)), cv2.resize(frame, (48, 32), interpolation=cv2.INTER_AREA)
    )
    for hw in [(10, 13), (50, 70), (100, 200), (7, 96)]:
        assert resize_to(frame, hw).shape == (*hw, 3)


def test_each_subpackage_exports_its_errors() -> None:
    """Every DenseOodError subclass is importable from its subpackage (`dense_ood_ros.X`)."""
    import importlib
    import inspect
    import pkgutil

    import dense_ood_ros
    from dense_ood_ros.errors import DenseOodError

    found = {}
    for info in pkgutil.walk_packages(dense_ood_ros.__path__, "dense_ood_ros."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DenseOodError) and cls.__module__ == info.name:
                found[cls] = ".".join(info.name.split(".")[:2])
    assert len(found) > 20 and found[FrameError] == "dense_ood_ros.pipeline"
    for cls, package in found.items():
        if package != cls.__module__:  # a subpackage, not a top-level module (topics, errors)
            exported = importlib.import_module(package)
            assert getattr(exported, cls.__name__, None) is cls, f"{package} lacks {cls.__name__}"
            assert cls.__name__ in exported.__all__


def test_the_package_ships_py_typed() -> None:
    """PEP 561: type checkers read dense_ood_ros's annotations where it is installed."""
    from importlib.resources import files

    assert files("dense_ood_ros").joinpath("py.typed").is_file()


def test_runtime_never_imports_torch(tiny_model: Path) -> None:
    """The vehicle runtime has no torch: import every module, load, run and encode a frame in a
    clean interpreter."""
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, sys, numpy as np\n"
        "import dense_ood_ros\n"
        "for m in pkgutil.walk_packages(dense_ood_ros.__path__, 'dense_ood_ros.'):\n"
        "    importlib.import_module(m.name)\n"
        "from dense_ood_ros.codec import messages\n"
        "from dense_ood_ros.engine import load_engine\n"
        "from dense_ood_ros.pipeline.frame_pipeline import Pipeline\n"
        f"p = Pipeline(load_engine({str(tiny_model)!r}))\n"
        "r = p.process(np.zeros((40, 50, 3), np.uint8), extra_scores=True)\n"
        "messages.pixels_as_uint8_array(r.overlay)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
