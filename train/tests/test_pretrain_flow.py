"""`pretrain-flow`: held-out bits/dim fall, sample grids, and `fit` loading the flow it wrote."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from dense_ood_train.cli import main as cli_main
from dense_ood_train.config import config_from_dict
from dense_ood_train.loop.checkpoint import CheckpointError, load_pretrained_flow
from dense_ood_train.models import build_flow, flow_architecture

CONFIG = {
    "seed": 0,
    "data": {
        "dataset": "synthroad",
        "num_scenes": 12,
        "scene_hw": [64, 128],
        "val_scenes": 3,
        "crop_hw": [32, 64],
        "scale": [1.0, 1.0],
        "batch_size": 4,
        "val_batch_size": 2,
    },
    "model": {"backbone": "mobilenetv3_small_050", "decoder_width": 16},
    "flow": {"levels": 2, "steps_per_level": 2, "hidden": 16, "learned_prior": True},
    "negatives": {"beta": 0.3, "patch_min": 8, "patch_max": 24, "reference_height": 32},
    "optim": {"lr": 3e-3, "steps": 4, "warmup_steps": 0},
    "log": {"every": 2, "checkpoint_every": 2},
    "runtime": {"threads": 1, "device": "cpu"},
}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pretrain")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    output = folder / "flow"
    args = ["pretrain-flow", "--config", str(config), "--output", str(output), "--no-progress"]
    assert cli_main([*args, "--steps", "60", "--eval-every", "30"]) == 0
    return config, output


def _heldout(output: Path) -> list[dict[str, float]]:
    with (output / "heldout.csv").open() as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def test_pretraining_lowers_heldout_bits_per_dim(pretrained: tuple[Path, Path]) -> None:
    _, output = pretrained
    rows = _heldout(output)
    assert [r["step"] for r in rows] == [0, 30, 60]
    sides = [k for k in rows[0] if k.startswith("bpd_") and k != "bpd_mean"]
    assert len(sides) >= 2  # one column per patch size
    for side in sides:
        assert rows[-1][side] < rows[0][side] - 0.3
    assert rows[-1]["train_minutes"] > 0
    assert {"sample_bpd", "sample_mean", "sample_std", "sample_clipped"} <= set(rows[0])
    grids = sorted(p.name for p in (output / "samples").glob("*.png"))
    assert grids == ["step_000000.png", "step_000030.png", "step_000060.png"]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["heldout_last"]["bpd_mean"] < summary["heldout_first"]["bpd_mean"]


def test_pretraining_refuses_to_overwrite_and_resumes(
    pretrained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, output = pretrained
    args = ["pretrain-flow", "--config", str(config), "--output", str(output), "--no-progress"]
    assert cli_main([*args, "--steps", "60"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert cli_main([*args, "--steps", "64", "--eval-every", "30", "--resume"]) == 0
    assert [r["step"] for r in _heldout(output)] == [0, 30, 60, 64]


def test_fit_starts_from_the_pretrained_flow(pretrained: tuple[Path, Path], tmp_path: Path) -> None:
    from dense_ood_train.loop.trainer import Trainer

    _, output = pretrained
    config = config_from_dict(CONFIG, [f"flow.pretrained={output / 'flow.pt'}", "flow.lr=0"])
    trainer = Trainer(config, tmp_path / "run", progress=False)
    saved = torch.load(output / "flow.pt", weights_only=True)["flow"]
    for name, value in trainer.model.flow.state_dict().items():
        assert torch.equal(value, saved[name]), name
    assert trainer.opt_flow is None  # frozen: nothing to optimise
    trainer.fit()
    for name, value in trainer.model.flow.state_dict().items():
        assert torch.equal(value, saved[name]), name  # still the pretrained flow
    with (tmp_path / "run" / "train.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"sample_bpd", "sample_mean", "sample_std", "sample_diversity", "jsd_flow"} <= set(
        rows[0]
    )
    assert float(rows[-1]["sample_clipped"]) >= 0.0
    grids = sorted(p.name for p in (tmp_path / "run" / "flow_samples").glob("*.png"))
    assert grids == ["step_000002.png", "step_000004.png"]  # one per checkpoint


def test_a_flow_of_another_architecture_is_refused(pretrained: tuple[Path, Path]) -> None:
    _, output = pretrained
    other = config_from_dict(CONFIG, ["flow.hidden=8"]).flow
    with pytest.raises(
        CheckpointError, match=r"another flow architecture: hidden 16 \(config: 8\)"
    ):
        load_pretrained_flow(output / "flow.pt", build_flow(other), flow_architecture(other))
    # a bare state dict of another shape is refused too, in one line
    bare = output.parent / "bare.pt"
    torch.save(build_flow(other).state_dict(), bare)
    same = config_from_dict(CONFIG).flow
    with pytest.raises(CheckpointError, match="do not fit the configured flow") as caught:
        load_pretrained_flow(bare, build_flow(same), flow_architecture(same))
    assert "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="no such file"):
        load_pretrained_flow(output / "missing.pt", build_flow(same), flow_architecture(same))


def test_bench_step_times_variants_in_one_run(
    pretrained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, output = pretrained
    flow = f"flow:negatives.mode=flow,flow.lr=0,flow.pretrained={output / 'flow.pt'}"
    args = ["bench-step", "--config", str(config), "--steps", "3", "--warmup", "1"]
    assert cli_main([*args, "--variant", "none:negatives.mode=none", "--variant", flow]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:3]}
    assert rows["none"][1] == "1.00" and float(rows["flow"][0]) > 0
    assert cli_main([*args, "--variant", ":x=1"]) == 2
