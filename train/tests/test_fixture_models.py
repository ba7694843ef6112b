"""The runtime tests' committed fixture models (test/models/) are what our exporter makes today.

scripts/make_test_models.py re-exports them here; a file that no longer matches in contract,
inputs and outputs, operators, weights or results on a frame fails until the script is rerun.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "test" / "models"


def load_script() -> ModuleType:
    """scripts/make_test_models.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "make_test_models", ROOT / "scripts" / "make_test_models.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fixture model, exported again into a temp folder."""
    out = tmp_path_factory.mktemp("fixture_models")
    load_script().export_all(out)
    return out


def signature(model: onnx.ModelProto) -> dict[str, object]:
    """Contract, I/O names and types, operators in order and weights of a model."""
    graph = model.graph
    return {
        "metadata": {p.key: p.value for p in model.metadata_props},
        "opset": [(o.domain, o.version) for o in model.opset_import],
        "io": [(v.name, v.type.SerializeToString()) for v in [*graph.input, *graph.output]],
        "ops": [node.op_type for node in graph.node],
    }


def test_every_committed_model_is_one_the_script_writes() -> None:
    names = set(load_script().MODELS)
    assert {p.name for p in COMMITTED.glob("*.onnx")} == names
    assert sum((COMMITTED / name).stat().st_size for name in names) < 300_000  # stay small


@pytest.mark.parametrize("name", ["tiny.onnx", "wide.onnx", "slow.onnx", "nan.onnx"])
def test_committed_model_matches_a_fresh_export(fresh: Path, name: str) -> None:
    committed, again = (onnx.load(folder / name) for folder in (COMMITTED, fresh))
    assert signature(committed) == signature(again)
    weights = [numpy_helper.to_array(t) for t in committed.graph.initializer]
    weights_again = [numpy_helper.to_array(t) for t in again.graph.initializer]
    assert len(weights) == len(weights_again) > 0
    for a, b in zip(weights, weights_again, strict=True):
        np.testing.assert_array_equal(a, b)  # NaN == NaN here, as in nan.onnx's bias

    height, width = (
        int(d.dim_value) for d in committed.graph.input[0].type.tensor_type.shape.dim[1:3]
    )
    frame = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    outputs = [
        ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"]).run(
            None, {"image": frame}
        )
        for folder in (COMMITTED, fresh)
    ]
    for a, b in zip(*outputs, strict=True):
        np.testing.assert_array_equal(a, b)
