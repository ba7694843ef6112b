"""A short real `fit` on synthroad (loss falls, checkpoint resumes) and the ONNX export's parity."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from dense_ood_ros.model.contract import read_contract
from dense_ood_train.cli import main as cli_main
from dense_ood_train.export.onnx_export import ContractWrapper
from dense_ood_train.loop.checkpoint import load_checkpoint, read_checkpoint
from dense_ood_train.method.scores import jsd_score

ort = pytest.importorskip("onnxruntime")

TINY_CONFIG = {
    "seed": 0,
    "data": {
        "dataset": "synthroad",
        "num_scenes": 16,
        "scene_hw": [64, 128],
        "val_scenes": 2,
        "crop_hw": [32, 64],
        "scale": [0.75, 1.25],
        "batch_size": 4,
        "val_batch_size": 2,
    },
    "model": {"backbone": "mobilenetv3_small_050", "decoder_width": 16},
    "flow": {"levels": 2, "steps_per_level": 1, "hidden": 8, "lr": 3e-3},
    "negatives": {"beta": 0.3, "patch_min": 8, "patch_max": 24, "reference_height": 32},
    "optim": {"lr": 3e-3, "steps": 24, "warmup_steps": 2},
    "log": {"every": 1, "checkpoint_every": 0},
    "runtime": {"threads": 1},
}


def _fit(config_path: Path, output: Path, *extra: str) -> int:
    return cli_main(
        ["fit", "--config", str(config_path), "--output", str(output), "--no-progress", *extra]
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-step fit, then resumed to 24 steps (the config's end)."""
    root = tmp_path_factory.mktemp("fit")
    config_path = root / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(TINY_CONFIG))
    output = root / "run"
    assert _fit(config_path, output, "--max-steps", "16") == 0
    assert read_checkpoint(output / "last.pt")["step"] == 16
    (output / "first_train.csv").write_text((output / "train.csv").read_text())
    assert _fit(config_path, output, "--resume") == 0
    return output


def _train_rows(path: Path) -> list[dict[str, float]]:
    with path.open() as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def test_fit_lowers_the_loss_and_resumes(run_dir: Path) -> None:
    first = _train_rows(run_dir / "first_train.csv")
    rows = _train_rows(run_dir / "train.csv")
    assert [r["step"] for r in first] == list(range(1, 17))
    assert [r["step"] for r in rows] == list(range(1, 25))  # resumed: the counter continued
    start = np.mean([r["total"] for r in rows[:4]])
    end = np.mean([r["total"] for r in rows[-4:]])
    assert end < start
    assert all(r["jsd"] > 0 for r in rows)
    state = read_checkpoint(run_dir / "last.pt")
    assert state["step"] == 24
    assert 0.0 <= state["metrics"]["val"]["miou"] <= 1.0
    assert (run_dir / "val.csv").is_file() and (run_dir / "summary.json").is_file()


def test_fit_refuses_to_overwrite_a_run(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert _fit(run_dir / ".." / "tiny.yaml", run_dir) == 2
    assert "--resume" in capsys.readouterr().err


def test_fit_reports_config_errors_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("negatives:\n  mode: sideways\n")
    assert _fit(bad, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "negatives.mode" in err


def test_load_checkpoint_rebuilds_the_segmenter(run_dir: Path) -> None:
    segmenter, config, extra = load_checkpoint(run_dir / "last.pt")
    assert not segmenter.training
    assert config.model.backbone == "mobilenetv3_small_050"
    assert extra["step"] == 24 and extra["flow"] is not None
    with torch.no_grad():
        logits = segmenter(torch.zeros(1, 3, 64, 128))
    assert logits.shape == (1, 19, 64, 128)


def test_export_matches_torch(run_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "model.onnx"
    code = cli_main(
        [
            "export",
            str(run_dir / "last.pt"),
            "--output",
            str(output),
            "--extra-scores",
            "--threshold",
            "0.7",
        ]
    )
    assert code == 0
    contract = read_contract(output)
    assert contract.input_hw == (64, 128)  # the synthroad scene size
    assert contract.num_classes == 19 and contract.class_names[0] == "road"
    assert contract.score == "jsd" and contract.threshold == pytest.approx(0.7)
    assert set(contract.extra_scores) == {"msp", "maxlogit", "entropy", "energy"}

    from dense_ood_train.data.synthroad import generate_scene

    images = np.stack([generate_scene(10_000 + i, 64, 128)[0] for i in range(3)])
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {"image": images}), strict=True))

    segmenter, _, _ = load_checkpoint(run_dir / "last.pt")
    wrapper = ContractWrapper(segmenter, "jsd", contract.extra_scores).eval()
    with torch.no_grad():
        expected = wrapper(torch.from_numpy(images))
    semantic, score = expected[0].numpy(), expected[1].numpy()
    assert outputs["semantic"].dtype == np.uint8 and outputs["anomaly_score"].dtype == np.float32
    assert (outputs["semantic"] == semantic).mean() >= 0.999
    assert np.abs(outputs["anomaly_score"] - score).max() <= 1e-4
    assert np.abs(outputs["score_msp"] - expected[2].numpy()).max() <= 1e-4
    # the score in the graph is the method's: 1 - normalised JSD of the segmenter's softmax
    with torch.no_grad():
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
        direct = jsd_score(segmenter(x)).numpy()
    assert np.abs(outputs["anomaly_score"] - direct).max() <= 1e-4


def test_export_takes_the_threshold_from_a_validation_report(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    report = tmp_path / "metrics.json"
    report.write_text(json.dumps({"scores": {"jsd": {"best_f1_threshold": 0.8125}}}))
    output = tmp_path / "model.onnx"
    args = ["export", str(run_dir / "last.pt"), "--output", str(output)]
    assert cli_main([*args, "--threshold-from", str(report)]) == 0
    assert read_contract(output).threshold == pytest.approx(0.8125)
    # a report without the exported score is refused with one line, and nothing is written
    other = tmp_path / "other.onnx"
    bad_args = ["export", str(run_dir / "last.pt"), "--output", str(other), "--score", "msp"]
    assert cli_main([*bad_args, "--threshold-from", str(report)]) == 2
    assert "no best-F1 threshold for score 'msp'" in capsys.readouterr().err
    assert not other.exists()


def test_export_refuses_to_overwrite(run_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "model.onnx"
    output.write_bytes(b"keep")
    assert cli_main(["export", str(run_dir / "last.pt"), "--output", str(output)]) == 2
    assert output.read_bytes() == b"keep"


def test_export_rejects_a_bad_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    assert cli_main(["export", str(bogus), "--output", str(tmp_path / "m.onnx")]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_fp16_export_runs_and_stays_close(run_dir: Path, tmp_path: Path) -> None:
    fp32, fp16 = tmp_path / "fp32.onnx", tmp_path / "fp16.onnx"
    assert cli_main(["export", str(run_dir / "last.pt"), "--output", str(fp32)]) == 0
    assert cli_main(["export", str(run_dir / "last.pt"), "--output", str(fp16), "--fp16"]) == 0
    assert fp16.stat().st_size < 0.7 * fp32.stat().st_size
    from dense_ood_train.data.synthroad import generate_scene

    images = generate_scene(20_000, 64, 128)[0][None]
    results = []
    for path in (fp32, fp16):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        results.append(session.run(None, {"image": images}))
    assert results[1][1].dtype == np.float32
    assert (results[0][0] == results[1][0]).mean() >= 0.98
    assert np.abs(results[0][1] - results[1][1]).max() <= 0.05


def test_flow_warmup_trains_only_the_flow(tmp_path: Path) -> None:
    from dense_ood_train.config import config_from_dict
    from dense_ood_train.loop.trainer import Trainer

    config = config_from_dict(TINY_CONFIG, ["flow.warmup_steps=2", "data.val_scenes=0"])
    trainer = Trainer(config, tmp_path, max_steps=2, progress=False)
    assert trainer.total_steps == 2
    seg_before = {k: v.clone() for k, v in trainer.model.segmenter.state_dict().items()}
    flow_before = [p.detach().clone() for p in trainer.model.flow.parameters()]
    images, labels = next(iter(trainer.train_loader))
    for _ in range(2):
        terms = trainer.train_step(images, labels)
        trainer.step += 1
        assert terms.ce.item() == 0.0 and terms.nll.item() > 0
    seg_after = trainer.model.segmenter.state_dict()
    assert all(torch.equal(seg_before[k], seg_after[k]) for k in seg_before)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(flow_before, trainer.model.flow.parameters(), strict=True)
    )
