"""Reading the model contract: a good model, and a clear one-line error for each bad file."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_CLASSES, TINY_INPUT_HW, TINY_PALETTE

from dense_ood_ros.model.contract import (
    KEY_CONTRACT,
    KEY_INPUT_HW,
    KEY_PALETTE,
    KEY_THRESHOLD,
    KEY_THRESHOLD_RULE,
    ContractError,
    ModelContract,
    read_contract,
)
from dense_ood_ros.model.errors import PlanSidecarError
from dense_ood_ros.model.plan_file import PlanSidecar, is_plan_file, plan_metadata_path

onnx = pytest.importorskip("onnx")


def _with_metadata(source: Path, target: Path, changes: dict[str, str | None]) -> Path:
    """Copy an ONNX model, setting (or, for None, deleting) metadata keys."""
    model = onnx.load(str(source))
    meta = {p.key: p.value for p in model.metadata_props}
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))
    return target


def _one_line_error(path: Path) -> str:
    with pytest.raises(ContractError) as info:
        read_contract(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_reads_the_tiny_model(tiny_model: Path) -> None:
    contract = read_contract(tiny_model)
    assert contract.class_names == TINY_CLASSES
    assert contract.num_classes == 4
    np.testing.assert_array_equal(contract.palette, np.array(TINY_PALETTE, dtype=np.uint8))
    assert contract.palette.dtype == np.uint8
    assert contract.score == "jsd"
    assert contract.threshold == pytest.approx(0.6)
    assert contract.input_hw == TINY_INPUT_HW
    assert contract.extra_scores == ("msp", "maxlogit", "entropy", "energy")


def test_missing_file(tmp_path: Path) -> None:
    assert "no such model file" in _one_line_error(tmp_path / "absent.onnx")


def test_garbage_file_is_not_an_onnx_model(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    assert "not a readable ONNX model" in _one_line_error(path)


def test_onnx_without_metadata(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "plain.onnx"
    onnx.save(model, str(path))
    assert "not a dense_ood model" in _one_line_error(path)


def test_wrong_contract_version(tiny_model: Path, tmp_path: Path) -> None:
    path = _with_metadata(tiny_model, tmp_path / "v2.onnx", {KEY_CONTRACT: "2"})
    assert "contract version '2'" in _one_line_error(path)


@pytest.mark.parametrize(
    ("palette", "expected"),
    [
        ("[[1, 2, 3]]", "palette"),  # one row for four classes
        ("[[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 300]]", "0..255"),
        ("not json", "malformed metadata"),
    ],
)
def test_malformed_palette(tiny_model: Path, tmp_path: Path, palette: str, expected: str) -> None:
    path = _with_metadata(tiny_model, tmp_path / "palette.onnx", {KEY_PALETTE: palette})
    assert expected in _one_line_error(path)


def test_missing_and_bad_keys(tiny_model: Path, tmp_path: Path) -> None:
    path = _with_metadata(tiny_model, tmp_path / "a.onnx", {KEY_THRESHOLD: None})
    assert KEY_THRESHOLD in _one_line_error(path)
    path = _with_metadata(tiny_model, tmp_path / "b.onnx", {KEY_THRESHOLD: "nan"})
    assert "finite" in _one_line_error(path)
    path = _with_metadata(tiny_model, tmp_path / "c.onnx", {KEY_INPUT_HW: "[0, 96]"})
    assert KEY_INPUT_HW in _one_line_error(path)


def test_threshold_rule_is_optional_and_round_trips(tiny_model: Path, tmp_path: Path) -> None:
    assert read_contract(tiny_model).threshold_rule == "unspecified"
    rule = "fpr<=0.05 on inlier pixels of synthroad-ood (split=val)"
    path = _with_metadata(tiny_model, tmp_path / "rule.onnx", {KEY_THRESHOLD_RULE: rule})
    assert read_contract(path).threshold_rule == rule
    path = _with_metadata(tiny_model, tmp_path / "old.onnx", {KEY_THRESHOLD_RULE: None})
    assert read_contract(path).threshold_rule == "unspecified"  # models exported before the key
    meta = read_contract(path).to_metadata()
    assert (
        ModelContract.from_metadata({**meta, KEY_THRESHOLD_RULE: "best-f1\n on x"}).threshold_rule
        == "best-f1 on x"
    )


def test_plan_sidecar(tiny_model: Path, tmp_path: Path) -> None:
    from dense_ood_ros.engine.engine_key import EngineKey

    plan = tmp_path / "model.plan"
    assert "no such model file" in _one_line_error(plan)
    plan.write_bytes(b"engine bytes")
    assert "no model.plan.json beside it" in _one_line_error(plan)
    meta = {p.key: p.value for p in onnx.load(str(tiny_model)).metadata_props}
    key = EngineKey("ab" * 32, "10.8.0", "NVIDIA H200", "9.0", "fp16", {"image": [[1, 64, 96, 3]]})
    PlanSidecar(meta, asdict(key), str(tiny_model), 12.5).write(plan)
    from_plan, from_onnx = read_contract(plan), read_contract(tiny_model)
    assert from_plan.class_names == from_onnx.class_names
    assert from_plan.input_hw == from_onnx.input_hw
    assert from_plan.threshold == from_onnx.threshold
    np.testing.assert_array_equal(from_plan.palette, from_onnx.palette)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("{not json", "unreadable plan sidecar (Expecting property name"),
        ("[1, 2]", "not a dense_ood plan sidecar (no sidecar_version)"),
        ('{"metadata": {}}', "not a dense_ood plan sidecar (no sidecar_version)"),
        ('{"sidecar_version": 0, "metadata": {}}', "plan sidecar version 0, this runtime reads 1"),
        ('{"sidecar_version": "1"}', "plan sidecar version '1', this runtime reads 1"),
        ('{"sidecar_version": 1, "metadata": 3}', "no 'metadata' object"),
        ('{"sidecar_version": 1, "metadata": {}}', "no 'engine_key' object"),
    ],
)
def test_a_bad_plan_sidecar_is_one_line_for_every_reader(
    tiny_model: Path, tmp_path: Path, stored: str, message: str
) -> None:
    """read_contract (bench, demo) and the engine's sidecar reader refuse alike."""

    plan = tmp_path / "model.engine"
    plan.write_bytes(b"engine bytes")
    plan_metadata_path(plan).write_text(stored)
    assert message in _one_line_error(plan)
    with pytest.raises(PlanSidecarError) as info:
        PlanSidecar.read(plan)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_which_files_are_plans(tmp_path: Path) -> None:
    for name in ("m.plan", "m.engine", "m.trt", "models/m.fp16.b2.plan"):
        assert is_plan_file(tmp_path / name) and is_plan_file(name)
    for name in ("m.onnx", "m.plan.json", "m.onnx.plan.calib", "plan", "m.planx"):
        assert not is_plan_file(name)
    assert plan_metadata_path("a/m.fp32.b1.plan") == Path("a/m.fp32.b1.plan.json")
