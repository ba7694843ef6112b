"""The models committed in models/: contract-1, every score, small, licensed, and the node's
default (camvid_nflowjs) segments a real road frame."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dense_ood_ros.engine import load_engine
from dense_ood_ros.model.bundled import DEMO_MODEL_NAME, demo_model_path
from dense_ood_ros.model.contract import (
    KEY_LICENCE,
    KEY_PRECISION,
    KEY_TRAINING,
    KNOWN_SCORES,
    read_contract,
    read_onnx_metadata,
)

MODELS = Path(__file__).resolve().parents[1] / "models"
SAMPLES = MODELS.parent / "data" / "samples"
#: file -> (the negatives mode it was trained with, its training steps)
SYNTHROAD = {
    "synthroad_nflowjs.onnx": "flow",
    "synthroad_no_negatives.onnx": "none",
    "synthroad_real_negatives.onnx": "real",
    "synthroad_nflowjs_objects.onnx": "flow+real",
    "synthroad_nflowjs_int8.onnx": "flow",  # the synthroad model through `dense-ood quantize`
}
CAMVID = {
    "camvid_nflowjs.onnx": "flow",  # the flow config chosen on camvid-coco's val half
    "camvid_no_negatives.onnx": "none",
    "camvid_real_negatives.onnx": "coco",  # real outlier exposure: COCO object photos
    "camvid_objects.onnx": "real",  # procedural shapes
    "camvid_nflowjs_int8.onnx": "flow",  # the default model through `dense-ood quantize`
}
CAMVID_NAMES = ("sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence",
                "car", "pedestrian", "bicyclist")  # fmt: skip
BUNDLED = {**SYNTHROAD, **CAMVID}
QUANTIZED = {"synthroad_nflowjs_int8.onnx": "synthroad_nflowjs.onnx",
             "camvid_nflowjs_int8.onnx": "camvid_nflowjs.onnx"}  # fmt: skip


def _rgb(path: Path, hw: tuple[int, int]) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_is_a_complete_contract_model(name: str) -> None:
    contract = read_contract(MODELS / name)
    assert set(contract.extra_scores) == set(KNOWN_SCORES) - {contract.score}
    if name in CAMVID:  # the primary score is the one its config ranks best on val
        assert contract.class_names == CAMVID_NAMES and contract.num_classes == 11
        assert contract.palette[3].tolist() == [128, 64, 128]  # CamVid's road colour
        assert contract.threshold_rule.startswith("fpr<=0.05 on inlier pixels of camvid-coco")
        assert np.isfinite(contract.threshold)
    else:
        assert contract.score == "jsd" and 0.0 < contract.threshold < 1.0
    assert contract.threshold != 0.5  # chosen on the validation split, not the 0.5 default


def test_bundled_models_fit_the_size_budget() -> None:
    assert sum((MODELS / name).stat().st_size for name in BUNDLED) <= 40 * 2**20


@pytest.mark.parametrize("name", CAMVID)
def test_camvid_models_say_what_they_may_be_used_for(name: str) -> None:
    licence = read_onnx_metadata(MODELS / name)[KEY_LICENCE]
    assert "CC BY-NC 4.0" in licence and "non-commercial" in licence


def test_default_model_is_camvid_nflowjs_and_segments_a_real_road() -> None:
    assert DEMO_MODEL_NAME == "camvid_nflowjs.onnx"
    path = demo_model_path()  # the checkout's, or the same file installed
    assert path is not None and path.read_bytes() == (MODELS / DEMO_MODEL_NAME).read_bytes()
    engine = load_engine(path, "onnxruntime")
    height, width = engine.contract.input_hw
    frame = _rgb(SAMPLES / "straight_lines1.jpg", (height, width))
    outputs = engine.infer(frame[None])
    # a real highway frame: road in the middle of the bottom third, sky at the top
    road = outputs.semantic[0, 2 * height // 3 : 9 * height // 10, width // 4 : 3 * width // 4]
    assert (road == CAMVID_NAMES.index("road")).mean() > 0.5
    assert (outputs.semantic[0, : height // 8] == CAMVID_NAMES.index("sky")).mean() > 0.5
    assert np.isfinite(outputs.score).all()


def test_synthroad_model_segments_a_synthroad_sample() -> None:
    engine = load_engine(MODELS / "synthroad_nflowjs.onnx", "onnxruntime")
    height, width = engine.contract.input_hw
    frame = _rgb(sorted((SAMPLES / "synthroad").glob("*.jpg"))[0], (height, width))
    outputs = engine.infer(frame[None])
    assert (outputs.semantic[0, height // 2 :] == 0).mean() > 0.3  # road, trainId 0


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_records_how_it_was_made(name: str) -> None:
    training = json.loads(read_onnx_metadata(MODELS / name)[KEY_TRAINING])
    assert training["negatives_mode"] == BUNDLED[name]
    if name in CAMVID:  # the segmenter chosen on camvid-coco val
        assert training["backbone"] == "espnetv2_s2.0"
    assert training["steps"] > 0 and isinstance(training["seed"], int)
    assert len(training["config_digest"]) == 16
    assert len(training["source_commit"].split("-")[0]) == 40  # a git commit


@pytest.mark.parametrize(("int8_name", "fp32_name"), QUANTIZED.items())
def test_int8_model_is_its_fp32_model_quantized(int8_name: str, fp32_name: str) -> None:
    fp32, int8 = (read_onnx_metadata(MODELS / n) for n in (fp32_name, int8_name))
    assert int8[KEY_PRECISION] == "int8" and int8[KEY_TRAINING] == fp32[KEY_TRAINING]
    reference_engine = load_engine(MODELS / fp32_name, "onnxruntime")
    hw = reference_engine.contract.input_hw
    folder = SAMPLES / ("synthroad" if fp32_name.startswith("synthroad") else "")
    frames = np.stack([_rgb(path, hw) for path in sorted(folder.glob("*.jpg"))[:6]])
    reference = reference_engine.infer(frames)
    outputs = load_engine(MODELS / int8_name, "onnxruntime").infer(frames)
    assert np.mean(outputs.semantic == reference.semantic) >= 0.97
    # 2 % of the score's range: 0.02 for scores in [0, 1], more for energy and max logit
    spread = np.percentile(reference.score, 99) - np.percentile(reference.score, 1)
    assert np.abs(outputs.score - reference.score).mean() <= 0.02 * max(spread, 1.0)
