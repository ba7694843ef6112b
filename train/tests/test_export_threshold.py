"""`dense-ood-train export` thresholds from a validation report: best F1 or a fixed inlier FPR,
and the rule recorded in `dense_ood.threshold_rule`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dense_ood_ros.model.contract import read_contract
from dense_ood_train.cli import main as cli_main
from dense_ood_train.export.checkpoint_export import ExportError, threshold_from_report

#: the shared `checkpoint` fixture (see untrained_checkpoint.py for why it is not a conftest)
pytest_plugins = ["untrained_checkpoint"]

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

REPORT = {
    "benchmark": "synthroad-ood",
    "benchmark_options": {"split": "val", "num_frames": 200},
    "scores": {
        "jsd": {
            "best_f1_threshold": 0.8125,
            "thresholds_at_fpr": {"0.01": 0.9, "0.05": 0.75, "0.1": None},
        },
        "msp": {"best_f1_threshold": 0.5},
    },
}
FPR_RULE = "fpr<=0.05 on inlier pixels of synthroad-ood (split=val, num_frames=200)"


@pytest.fixture()
def report(tmp_path: Path) -> Path:
    """A validation metrics.json as `evaluate` writes it (the fields export reads)."""
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(REPORT))
    return path


def test_export_at_an_fpr_records_the_threshold_and_its_rule(
    checkpoint: Path, report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "model.onnx"
    args = ["export", str(checkpoint), "--output", str(output), "--threshold-from", str(report)]
    assert cli_main([*args, "--threshold-at-fpr", "0.05"]) == 0
    contract = read_contract(output)
    assert contract.threshold == 0.75 and contract.threshold_rule == FPR_RULE
    assert f"threshold 0.75: {FPR_RULE}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "threshold", "rule"),
    [(["--threshold", "0.6"], 0.6, "manual"), ([], 0.5, "default, not calibrated")],
)
def test_a_threshold_without_report_is_manual_or_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], threshold: float, rule: str
) -> None:
    import dense_ood_train.commands.export as command

    asked: dict = {}

    def fake_export(checkpoint: Path, output: Path, **kwargs: object) -> tuple[Path, tuple]:
        asked.update(kwargs)
        output.write_bytes(b"onnx")
        return output, (64, 128)

    monkeypatch.setattr(command, "export_checkpoint", fake_export)
    assert cli_main(["export", "unused.pt", "--output", str(tmp_path / "m.onnx"), *extra]) == 0
    assert asked["threshold"] == threshold and asked["threshold_rule"] == rule


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--threshold-at-fpr", "0.03"],
            "no threshold at FPR 0.03 for score 'jsd'; levels: 0.01, 0.05, 0.1",
        ),
        (["--threshold-at-fpr", "0.1"], "is undefined (no inliers)"),
        (["--threshold-at-fpr", "0.05", "--score", "msp"], "no thresholds_at_fpr for score 'msp'"),
        (["--threshold-at-fpr", "0.05", "--score", "energy"], "no threshold at FPR 0.05 for score"),
    ],
)
def test_a_level_the_report_lacks_is_one_line(
    report: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    output = tmp_path / "model.onnx"
    args = ["export", "unused.pt", "--output", str(output), "--threshold-from", str(report)]
    assert cli_main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not output.exists()


def test_threshold_at_fpr_needs_a_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["export", "unused.pt", "--output", str(tmp_path / "m.onnx")]
    assert cli_main([*args, "--threshold-at-fpr", "0.05"]) == 2
    assert "--threshold-at-fpr needs --threshold-from" in capsys.readouterr().err
    assert cli_main([*args, "--threshold", "0.5", "--threshold-at-fpr", "0.05"]) == 2
    assert "--threshold-at-fpr needs --threshold-from" in capsys.readouterr().err


def test_threshold_from_report_rules(report: Path, tmp_path: Path) -> None:
    best_f1_rule = "best-f1 on synthroad-ood (split=val, num_frames=200)"
    assert threshold_from_report(report, "jsd") == (0.8125, best_f1_rule)
    assert threshold_from_report(report, "jsd", 5e-2) == (0.75, FPR_RULE)  # any spelling of 0.05
    bare = tmp_path / "bare.json"  # a report that does not say what it measured
    bare.write_text(json.dumps({"scores": REPORT["scores"]}))
    assert threshold_from_report(bare, "jsd", 0.01) == (0.9, "fpr<=0.01 on inlier pixels")
    assert threshold_from_report(bare, "msp") == (0.5, "best-f1")
    with pytest.raises(ExportError, match="no best-F1 threshold for score 'energy'"):
        threshold_from_report(bare, "energy")


def test_help_explains_the_threshold_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--threshold-at-fpr LEVEL" in text and "FPR <= LEVEL" in text
    assert "best-F1 threshold of --score" in text and "'manual'" in text
