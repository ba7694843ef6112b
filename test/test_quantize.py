"""Calibration frames and `dense-ood quantize`: real pictures and bags in, a Q/DQ INT8 model
out that keeps the contract and runs in ONNX Runtime (and, in test_node_int8, in the node)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_INPUT_HW, write_pictures

from dense_ood_ros.codec.image_codec import read_rgb
from dense_ood_ros.codec.resize import resize_to
from dense_ood_ros.engine import load_engine
from dense_ood_ros.engine.calibration import CalibrationError, evenly_spaced
from dense_ood_ros.model.contract import KEY_PRECISION, read_onnx_metadata
from dense_ood_ros.replay.calibration_frames import load_calibration_set
from dense_ood_ros.tools import cli

onnx = pytest.importorskip("onnx")


def _quantized_convolutions(model: Path) -> list[bool]:
    """Per convolution, in graph order: are its weights an INT8 tensor (DequantizeLinear)?"""
    graph = onnx.load(str(model)).graph
    producers = {out: node.op_type for node in graph.node for out in node.output}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    return [producers.get(conv.input[1]) == "DequantizeLinear" for conv in convs]


def test_evenly_spaced() -> None:
    assert evenly_spaced(5, 3) == [0, 2, 4]
    assert evenly_spaced(2, 8) == [0, 1]
    assert evenly_spaced(10, 1) == [0]


def test_calibration_frames_are_the_nodes_model_inputs(calibration_pictures: Path) -> None:
    calibration = load_calibration_set(TINY_INPUT_HW, directory=calibration_pictures, frames=3)
    files = sorted(calibration_pictures.glob("*.png"))
    chosen = [files[i] for i in evenly_spaced(len(files), 3)]
    assert len(calibration.frames) == 3
    for frame, path in zip(calibration.frames, chosen, strict=True):
        np.testing.assert_array_equal(frame, resize_to(read_rgb(path), TINY_INPUT_HW))
    batches = list(calibration.batches(2))
    assert [b.shape for b in batches] == [(2, *TINY_INPUT_HW, 3), (1, *TINY_INPUT_HW, 3)]
    assert calibration.describe() == "3 frames from " + str(calibration_pictures) + " (frames: 3)"


def test_calibration_frames_from_a_bag(tmp_path: Path) -> None:
    pytest.importorskip("rosbags")
    bag = tmp_path / "bag"
    assert cli.main(["make-sample-bag", str(bag), "--with-labels", "--frames", "10"]) == 0
    calibration = load_calibration_set(
        TINY_INPUT_HW, bag=bag, frames=4, topics=["/camera/image_raw"]
    )
    assert calibration.counts == {"/camera/image_raw": 4}
    assert all(f.shape == (*TINY_INPUT_HW, 3) and f.dtype == np.uint8 for f in calibration.frames)
    with pytest.raises(CalibrationError, match="no camera topic /front"):
        load_calibration_set(TINY_INPUT_HW, bag=bag, topics=["/front"])


def test_calibration_errors(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="no calibration folder"):
        load_calibration_set(TINY_INPUT_HW, directory=tmp_path / "absent")
    with pytest.raises(CalibrationError, match=r"holds no \.png"):
        load_calibration_set(TINY_INPUT_HW, directory=tmp_path)
    with pytest.raises(CalibrationError, match="one of the two"):
        load_calibration_set(TINY_INPUT_HW)
    with pytest.raises(CalibrationError, match="absent_bag: no such bag"):
        load_calibration_set(TINY_INPUT_HW, bag=tmp_path / "absent_bag")
    broken = write_pictures(tmp_path / "broken", 2)
    (broken / "frame_001.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(CalibrationError, match="cannot read image"):
        load_calibration_set(TINY_INPUT_HW, directory=broken)


def test_int8_tiny_model_keeps_the_contract(tiny_model: Path, int8_tiny_model: Path) -> None:
    before, after = read_onnx_metadata(tiny_model), read_onnx_metadata(int8_tiny_model)
    assert after[KEY_PRECISION] == "int8"
    assert json.loads(after["dense_ood.quantization"])["frames"] == 16
    assert {k: v for k, v in after.items() if k in before and k != KEY_PRECISION} == {
        k: v for k, v in before.items() if k != KEY_PRECISION
    }
    fp32, int8 = load_engine(tiny_model, "onnxruntime"), load_engine(int8_tiny_model, "onnxruntime")
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert int8.contract.class_names == fp32.contract.class_names
    assert int8.contract.extra_scores == fp32.contract.extra_scores


def test_int8_tiny_model_is_quantized_where_chosen(int8_tiny_model: Path) -> None:
    # the tiny model's three convolutions: the first stays float, the others are INT8
    assert _quantized_convolutions(int8_tiny_model) == [False, True, True]
    graph = onnx.load(str(int8_tiny_model)).graph
    # the score head (the exporter's `head` module) runs in float: nothing of it is quantized
    head = [n for n in graph.node if n.name.startswith("/head/")]
    quantize_inputs = {n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    assert head and not quantize_inputs & {out for n in head for out in n.output}


def test_int8_outputs_agree_with_fp32(
    tiny_model: Path, int8_tiny_model: Path, calibration_pictures: Path
) -> None:
    frames = load_calibration_set(TINY_INPUT_HW, directory=calibration_pictures, frames=24).frames
    images = np.stack(frames)
    fp32 = load_engine(tiny_model, "onnxruntime").infer(images)
    int8 = load_engine(int8_tiny_model, "onnxruntime").infer(images)
    assert int8.semantic.dtype == np.uint8 and int8.score.dtype == np.float32
    assert int8.semantic.shape == fp32.semantic.shape
    assert set(int8.extra_scores) == set(fp32.extra_scores)
    assert np.mean(int8.semantic == fp32.semantic) >= 0.9
    assert np.abs(int8.score - fp32.score).mean() <= 0.05


def test_quantize_refusals(
    tiny_model: Path, int8_tiny_model: Path, calibration_pictures: Path, tmp_path, capsys
):
    kept = tmp_path / "kept.onnx"
    kept.write_text("earlier output")
    base = ["quantize", "--calibration-dir", str(calibration_pictures), "--frames", "2"]
    assert cli.main([*base, str(tiny_model), "--output", str(kept)]) == 2
    assert kept.read_text() == "earlier output"
    again = tmp_path / "again.onnx"
    assert cli.main([*base, str(int8_tiny_model), "--output", str(again)]) == 2
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    assert cli.main([*base, str(garbage), "--output", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("dense-ood quantize: error:") for line in err)
    assert "exists; pass --overwrite" in err[0]
    assert "already int8" in err[1]
    assert "not a readable ONNX model" in err[2]
    assert not again.exists()


def test_keep_float_chooses_the_float_convolutions(tiny_model, calibration_pictures, tmp_path):
    output = tmp_path / "all_int8.onnx"
    argv = ["quantize", str(tiny_model), "--output", str(output), "--calibration-dir",
            str(calibration_pictures), "--frames", "4", "--keep-float"]  # fmt: skip
    assert cli.main(argv) == 0
    assert _quantized_convolutions(output) == [True, True, True]
    how = json.loads(read_onnx_metadata(output)["dense_ood.quantization"])
    assert how["float"] == [] and how["method"] == "percentile"
