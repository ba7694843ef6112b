"""The engine interface and the ONNX Runtime backend, on real sessions; backend selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from conftest import TINY_INPUT_HW

from dense_ood_ros.engine import EngineError, load_engine
from dense_ood_ros.engine.onnxruntime_backend import OnnxRuntimeEngine
from dense_ood_ros.model.contract import ContractError, ModelContract

onnx = pytest.importorskip("onnx")
HEIGHT, WIDTH = TINY_INPUT_HW


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> OnnxRuntimeEngine:
    return load_engine(tiny_model, "onnxruntime")


def _images(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, HEIGHT, WIDTH, 3), dtype=np.uint8)


def test_shapes_dtypes_and_extra_scores(engine, rng) -> None:
    outputs = engine.infer(_images(rng, 1))
    assert outputs.semantic.shape == (1, HEIGHT, WIDTH)
    assert outputs.semantic.dtype == np.uint8
    assert outputs.semantic.max() < engine.contract.num_classes
    assert outputs.score.shape == (1, HEIGHT, WIDTH)
    assert outputs.score.dtype == np.float32
    assert outputs.score.min() >= 0.0 and outputs.score.max() <= 1.0 + 1e-6  # JSD score range
    assert tuple(outputs.extra_scores) == engine.contract.extra_scores
    for values in outputs.extra_scores.values():
        assert values.shape == (1, HEIGHT, WIDTH) and values.dtype == np.float32
    assert engine.infer(_images(rng, 1), extra_scores=False).extra_scores == {}


def test_batch_of_two_equals_single_runs(engine, rng) -> None:
    images = _images(rng, 2)
    batch = engine.infer(images)
    assert batch.semantic.shape == (2, HEIGHT, WIDTH)
    for i in range(2):
        single = engine.infer(images[i : i + 1])
        np.testing.assert_array_equal(batch.semantic[i], single.semantic[0])
        np.testing.assert_allclose(batch.score[i], single.score[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            batch.extra_scores["msp"][i], single.extra_scores["msp"][0], rtol=1e-5, atol=1e-6
        )


def test_matches_a_plain_onnxruntime_session(engine, tiny_model, rng) -> None:
    images = _images(rng, 1)
    session = ort.InferenceSession(str(tiny_model), providers=["CPUExecutionProvider"])
    semantic, score = session.run(["semantic", "anomaly_score"], {"image": images})
    outputs = engine.infer(images)
    np.testing.assert_array_equal(outputs.semantic, semantic)
    np.testing.assert_allclose(outputs.score, score, rtol=1e-5, atol=1e-6)


def test_reports_backend_and_providers(engine) -> None:
    assert engine.backend_name == "onnxruntime"
    assert engine.providers[-1] == "CPUExecutionProvider"
    assert engine.contract.input_hw == TINY_INPUT_HW


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((1, HEIGHT, WIDTH, 3), np.float32),  # wrong dtype
        np.zeros((1, HEIGHT + 1, WIDTH, 3), np.uint8),  # wrong size
        np.zeros((HEIGHT, WIDTH, 3), np.uint8),  # no batch axis
    ],
)
def test_rejects_bad_input(engine, images) -> None:
    with pytest.raises(EngineError, match="engine input must"):
        engine.infer(images)


def test_unknown_backend(tiny_model) -> None:
    with pytest.raises(EngineError, match="unknown backend 'cuda'"):
        load_engine(tiny_model, "cuda")


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no such model file"):
        load_engine(tmp_path / "absent.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ContractError, match="not a readable ONNX model"):
        load_engine(garbage)


# --- models whose graph breaks the contract (their metadata is fine) --------------------------


def _graph_model(
    path: Path,
    input_type: int | None = None,
    batch: int | str = "N",
    semantic_name: str = "semantic",
    contract_hw: tuple[int, int] = TINY_INPUT_HW,
) -> Path:
    """image uint8 [batch, 64, 96, 3] -> semantic = max over channels, anomaly_score = its float.

    A stand-in model with a valid contract, built without torch; arguments break one rule each.
    """
    from onnx import TensorProto, helper

    input_type = TensorProto.UINT8 if input_type is None else input_type
    image = helper.make_tensor_value_info("image", input_type, [batch, HEIGHT, WIDTH, 3])
    nodes = [
        helper.make_node("ReduceMax", ["image"], [semantic_name], axes=[3], keepdims=0),
        helper.make_node("Cast", [semantic_name], ["raw"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["raw", "scale"], ["anomaly_score"]),
    ]
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [255.0])
    outputs = [
        helper.make_tensor_value_info(semantic_name, input_type, [batch, HEIGHT, WIDTH]),
        helper.make_tensor_value_info("anomaly_score", TensorProto.FLOAT, [batch, HEIGHT, WIDTH]),
    ]
    graph = helper.make_graph(nodes, "stand_in", [image], outputs, initializer=[scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    contract = ModelContract(
        class_names=tuple(f"c{i}" for i in range(256)),
        palette=np.zeros((256, 3), np.uint8),
        score="jsd",
        threshold=0.5,
        input_hw=contract_hw,
    )
    for key, value in contract.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def test_stand_in_graph_runs(tmp_path: Path, rng) -> None:
    engine = load_engine(_graph_model(tmp_path / "ok.onnx"), "onnxruntime")
    images = _images(rng, 2)
    outputs = engine.infer(images)
    np.testing.assert_array_equal(outputs.semantic, images.max(axis=3))
    np.testing.assert_allclose(outputs.score, images.max(axis=3) / 255.0, rtol=1e-6)


def test_fixed_batch_of_one_still_takes_batches(tmp_path: Path, rng) -> None:
    engine = load_engine(_graph_model(tmp_path / "b1.onnx", batch=1), "onnxruntime")
    images = _images(rng, 3)
    np.testing.assert_array_equal(engine.infer(images).semantic, images.max(axis=3))


def test_wrong_input_type_is_an_engine_error(tmp_path: Path) -> None:
    from onnx import TensorProto

    path = _graph_model(tmp_path / "float.onnx", input_type=TensorProto.FLOAT)
    with pytest.raises(EngineError, match="'image' must be a rank-4 uint8 tensor"):
        load_engine(path, "onnxruntime")


def test_missing_output_is_an_engine_error(tmp_path: Path) -> None:
    path = _graph_model(tmp_path / "labels.onnx", semantic_name="labels")
    with pytest.raises(EngineError, match="no output 'semantic'") as info:
        load_engine(path, "onnxruntime")
    assert "\n" not in str(info.value)


def test_input_size_must_match_the_contract(tmp_path: Path) -> None:
    path = _graph_model(tmp_path / "size.onnx", contract_hw=(HEIGHT, WIDTH + 2))
    with pytest.raises(EngineError, match=f"width is {WIDTH}, the contract needs {WIDTH + 2}"):
        load_engine(path, "onnxruntime")


@pytest.mark.parametrize("package", ["dense_ood_ros.engine", "dense_ood_ros.model"])
def test_every_error_of_the_package_is_exported(package: str) -> None:
    """Callers catch by kind from the package itself: every DenseOodError class defined in one
    of its modules is in its __all__ (and a DenseOodError and a builtin)."""
    import importlib
    import inspect
    import pkgutil

    from dense_ood_ros.errors import DenseOodError

    root = importlib.import_module(package)
    defined = set()
    for info in pkgutil.iter_modules(root.__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        for name, value in vars(module).items():
            own = inspect.isclass(value) and value.__module__ == module.__name__
            if own and issubclass(value, DenseOodError):
                defined.add(name)
                assert issubclass(value, (ValueError, RuntimeError, OSError)), name
    assert defined and defined <= set(root.__all__)
    assert all(getattr(root, name).__name__ == name for name in defined)
