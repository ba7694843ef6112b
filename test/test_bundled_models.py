"""The demo models committed in models/: contract-1, every score, small, and the node's default."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dense_ood_ros.engine import load_engine
from dense_ood_ros.model.bundled import DEMO_MODEL_NAME, demo_model_path
from dense_ood_ros.model.contract import KNOWN_SCORES, read_contract

MODELS = Path(__file__).resolve().parents[1] / "models"
#: file -> the negatives mode it was trained with (its dense_ood.training metadata)
TRAINING = {
    "synthroad_nflowjs.onnx": "flow",
    "synthroad_no_negatives.onnx": "none",
    "synthroad_real_negatives.onnx": "real",
    "synthroad_nflowjs_objects.onnx": "flow+real",
    "synthroad_nflowjs_int8.onnx": "flow",  # the default model through `dense-ood quantize`
}
BUNDLED = tuple(TRAINING)
INT8_NAME = "synthroad_nflowjs_int8.onnx"


def _samples() -> list[Path]:
    return sorted((MODELS.parent / "data" / "samples" / "synthroad").glob("*.jpg"))


def _sample_input(path: Path, hw: tuple[int, int] = (128, 256)) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_is_a_complete_contract_model(name: str) -> None:
    contract = read_contract(MODELS / name)
    assert contract.score == "jsd"
    assert set(contract.extra_scores) == set(KNOWN_SCORES) - {"jsd"}
    assert contract.num_classes == 19 and contract.class_names[0] == "road"
    assert 0.0 < contract.threshold < 1.0  # chosen on the validation split, not the 0.5 default
    assert contract.threshold != 0.5


def test_bundled_models_fit_the_size_budget() -> None:
    assert sum((MODELS / name).stat().st_size for name in BUNDLED) <= 30 * 2**20


def test_demo_model_is_the_default_and_segments_a_sample() -> None:
    assert demo_model_path() == MODELS / DEMO_MODEL_NAME
    engine = load_engine(demo_model_path(), "onnxruntime")
    height, width = engine.contract.input_hw
    frame = _sample_input(_samples()[0], (height, width))
    outputs = engine.infer(frame[None])
    # a trained model: the road class covers a good part of the bottom half of a road scene
    bottom = outputs.semantic[0, height // 2 :]
    assert (bottom == 0).mean() > 0.3
    assert np.isfinite(outputs.score).all()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_records_how_it_was_made(name: str) -> None:
    import json

    from dense_ood_ros.model.contract import KEY_TRAINING, read_onnx_metadata

    training = json.loads(read_onnx_metadata(MODELS / name)[KEY_TRAINING])
    assert training["negatives_mode"] == TRAINING[name]
    assert training["steps"] == 3000 and isinstance(training["seed"], int)
    assert len(training["config_digest"]) == 16
    assert len(training["source_commit"].split("-")[0]) == 40  # a git commit


def test_int8_model_is_the_default_model_quantized() -> None:
    from dense_ood_ros.model.contract import KEY_PRECISION, KEY_TRAINING, read_onnx_metadata

    fp32, int8 = (read_onnx_metadata(MODELS / name) for name in (DEMO_MODEL_NAME, INT8_NAME))
    assert int8[KEY_PRECISION] == "int8" and int8[KEY_TRAINING] == fp32[KEY_TRAINING]
    frames = np.stack([_sample_input(path) for path in _samples()])
    reference = load_engine(MODELS / DEMO_MODEL_NAME, "onnxruntime").infer(frames)
    outputs = load_engine(MODELS / INT8_NAME, "onnxruntime").infer(frames)
    assert np.mean(outputs.semantic == reference.semantic) >= 0.97  # docs/engines.md: 99.05 %
    assert np.abs(outputs.score - reference.score).mean() <= 0.02
