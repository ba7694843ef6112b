"""`rehead`: an old class-first-head model gets today's head; network and metadata unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from dense_ood_ros.model.contract import read_onnx_metadata
from dense_ood_train.cli import main as cli_main
from dense_ood_train.export import onnx_export
from dense_ood_train.export.onnx_export import export_contract_model, make_contract
from dense_ood_train.method.scores import compute_score

ort = pytest.importorskip("onnxruntime")


class ClassFirstHead(nn.Module):
    """The head of earlier releases: argmax and scores over dim 1 of NCHW logits."""

    def __init__(self, score: str = "jsd", extra_scores=()) -> None:
        super().__init__()
        self.score, self.extra_scores = score, tuple(extra_scores)

    def forward(self, logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        semantic = logits.argmax(1).to(torch.uint8)
        scores = [compute_score(name, logits) for name in (self.score, *self.extra_scores)]
        return (semantic, *scores)


@pytest.fixture(scope="module")
def old_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rehead") / "old.onnx"
    torch.manual_seed(0)
    segmenter = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 5, 1))
    contract = make_contract([f"c{i}" for i in range(5)], [[i * 40] * 3 for i in range(5)],
                             (32, 48), threshold=0.7, extra_scores=True)  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onnx_export, "ContractHead", ClassFirstHead)
        export_contract_model(segmenter, path, contract, extra_metadata={"dense_ood.training": "x"})
    return path


def _run(path: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"image": images}), strict=True))


def test_rehead_keeps_outputs_and_metadata(old_model: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.onnx"
    assert cli_main(["rehead", str(old_model), "--output", str(new)]) == 0
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    before, after = _run(old_model, images), _run(new, images)
    assert list(after) == list(before)
    np.testing.assert_array_equal(after["semantic"], before["semantic"])
    for name in list(before)[1:]:
        np.testing.assert_allclose(after[name], before[name], atol=1e-5, err_msg=name)
    assert read_onnx_metadata(new) == read_onnx_metadata(old_model)
    model = onnx.load(str(new))
    assert [opset.domain for opset in model.opset_import] == [""]
    graph = model.graph
    class_ops = [n for n in graph.node if n.op_type in ("Softmax", "LogSoftmax", "ArgMax")]
    axes = [onnx.helper.get_attribute_value(a) for n in class_ops for a in n.attribute
            if a.name == "axis"]  # fmt: skip
    assert class_ops and axes == [-1] * len(class_ops)


def test_rehead_refuses_what_it_cannot_do(old_model: Path, tmp_path: Path, capsys) -> None:
    new = tmp_path / "new.onnx"
    new.write_text("keep me")
    assert cli_main(["rehead", str(old_model), "--output", str(new)]) == 2
    assert new.read_text() == "keep me"
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00not a model")
    assert cli_main(["rehead", str(broken), "--output", str(tmp_path / "out.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("dense-ood-train rehead: error:") for line in err)
    assert "not an ONNX model" in err[1]
