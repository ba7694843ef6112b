"""`dense-ood-train evaluate` end to end: a real checkpoint and an ONNX model on synthroad-ood."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from dense_ood_ros.engine import load_engine
from dense_ood_ros.metrics import pixel_metrics
from dense_ood_ros.model.contract import KNOWN_SCORES
from dense_ood_ros.pipeline.frame_pipeline import Pipeline
from dense_ood_train.benchmarks import open_benchmark
from dense_ood_train.cli import main as cli_main

#: the shared `checkpoint` fixture (see untrained_checkpoint.py for why it is not a conftest)
pytest_plugins = ["untrained_checkpoint"]

torch = pytest.importorskip("torch")

FRAMES = ["--option", "num_frames=3", "--option", "height=64", "--option", "width=128"]


@pytest.fixture(scope="module")
def jsd_only_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A contract-1 ONNX with the JSD score alone (no extra scores), 19 classes, 64x128."""
    from dense_ood_train.data.labels import CITYSCAPES_CLASS_NAMES, CITYSCAPES_PALETTE
    from dense_ood_train.export.onnx_export import export_contract_model, make_contract

    torch.manual_seed(1)
    segmenter = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 19, 1)
    )
    contract = make_contract(CITYSCAPES_CLASS_NAMES, CITYSCAPES_PALETTE, (64, 128), score="jsd")
    path = tmp_path_factory.mktemp("onnx") / "jsd_only.onnx"
    return export_contract_model(segmenter, path, contract)


def test_evaluate_checkpoint_on_synthroad_ood(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(checkpoint), "--benchmark", "synthroad-ood", *FRAMES]
    args += ["--option", "track=anomaly", "--output", str(out), "--samples", "2"]
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert "| score | AP | FPR95 | AUROC | best F1 | sIoU | PPV | mean F1 |" in printed
    assert "inlier mIoU" in printed

    report = json.loads((out / "metrics.json").read_text())
    assert list(report["scores"]) == list(KNOWN_SCORES)  # every score, exported from the ckpt
    assert report["frames"] == report["anomaly_frames"] == 3
    assert report["component_track"] == "anomaly"
    for metrics in report["scores"].values():
        assert 0.0 <= metrics["ap"] <= 1.0 and 0.0 <= metrics["auroc"] <= 1.0
        assert metrics["num_positive"] > 0 and metrics["num_negative"] > 0
        components = metrics["components"]
        assert components["min_pred_size"] == 500 and len(components["f1"]) == 11
    assert 0.0 <= report["miou"] <= 1.0 and len(report["class_iou"]) == 19
    assert (out / "metrics.md").read_text().startswith("**synthroad-ood**")
    for png in ("pr.png", "roc.png"):
        assert cv2.imread(str(out / png)) is not None
    samples = sorted((out / "samples").iterdir())
    assert len(samples) == 2
    assert cv2.imread(str(samples[0])).shape == (64, 4 * 128, 3)

    # An existing output is refused without --overwrite, replaced with it.
    assert cli_main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main([*args, "--overwrite", "--scores", "msp,jsd"]) == 0
    assert list(json.loads((out / "metrics.json").read_text())["scores"]) == ["msp", "jsd"]


def test_evaluate_onnx_matches_the_runtime_pipeline(
    jsd_only_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(jsd_only_model), "--benchmark", "synthroad-ood", *FRAMES]
    assert cli_main([*args, "--output", str(out), "--samples", "0"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert list(report["scores"]) == ["jsd"] and report["component_track"] is None
    # Same numbers as running the vehicle pipeline by hand over the same frames.
    pipeline = Pipeline(load_engine(jsd_only_model, "onnxruntime"))
    bench = open_benchmark("synthroad-ood", num_frames=3, height=64, width=128)
    scores = [pipeline.process(f.image, color=False, overlay=False).score for f in bench]
    expected = pixel_metrics(scores, [f.anomaly for f in bench])
    for key in ("ap", "fpr95", "auroc", "best_f1"):
        assert report["scores"]["jsd"][key] == pytest.approx(expected[key], abs=1e-12)
    capsys.readouterr()

    # A score the model does not carry: one line naming what it has.
    assert cli_main([*args, "--output", str(tmp_path / "e2"), "--scores", "jsd,energy"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no energy score" in err and "carries jsd" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--benchmark", "nope"], "unknown benchmark"),
        (["--benchmark", "synthroad-ood", "--option", "bogus=1"], "no option 'bogus'"),
        (["--benchmark", "folder"], "needs a root"),
        (["--benchmark", "synthroad-ood", "--scores", "jsd,foo"], "unknown ['foo']"),
    ],
)
def test_bad_input_is_one_line(
    jsd_only_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = ["evaluate", "--model", str(jsd_only_model), "--output", str(tmp_path / "o"), *extra]
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "o").exists()  # nothing created when the run cannot start
