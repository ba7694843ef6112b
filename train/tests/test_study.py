"""The study runner on a tiny real study: pretrained flow, two configs x two seeds, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from dense_ood_train.cli import main as cli_main
from dense_ood_train.study.plan import DONE_MARKER, StudyError, load_study
from dense_ood_train.study.table import verdict

pytest.importorskip("onnxruntime")
pytest.importorskip("matplotlib")

TINY_BASE = {
    "seed": 0,
    "data": {
        "dataset": "synthroad",
        "num_scenes": 8,
        "scene_hw": [64, 128],
        "val_scenes": 2,
        "crop_hw": [32, 64],
        "scale": [1.0, 1.0],
        "batch_size": 4,
        "val_batch_size": 2,
    },
    "model": {"backbone": "mobilenetv3_small_050", "decoder_width": 16},
    "flow": {"levels": 2, "steps_per_level": 1, "hidden": 8},
    "negatives": {"beta": 0.3, "patch_min": 8, "patch_max": 16, "reference_height": 32},
    "optim": {"lr": 3e-3, "steps": 4, "warmup_steps": 0},
    "log": {"every": 2, "checkpoint_every": 0},
    "runtime": {"threads": 1, "device": "cpu"},
}

FRAMES = {"num_frames": 2, "height": 64, "width": 128}


def _study(folder: Path, **changes: object) -> Path:
    (folder / "base.yaml").write_text(yaml.safe_dump(TINY_BASE))
    study = {
        "base": "base.yaml",
        "steps": 3,
        "seeds": [0, 1],
        "flows": {"tiny": {"steps": 2, "set": ["flow.learned_prior=true"]}},
        "evaluation": {
            "benchmark": "synthroad-ood",
            "splits": {"val": {"split": "val", **FRAMES}, "test": {"split": "test", **FRAMES}},
        },
        "configs": {
            "none": {"set": ["negatives.mode=none"], "scores": ["energy", "msp"]},
            "flow": {"flow": "tiny", "set": ["negatives.mode=flow", "flow.lr=0"]},
        },
        "compare": [{"method": "flow/jsd", "against": ["none/*"]}],
        **changes,
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def _run(study: Path, output: Path, *extra: str) -> int:
    return cli_main(["study", str(study), "--output", str(output), *extra])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("study")
    study, output = _study(folder), folder / "out"
    assert _run(study, output, "--only", "none") == 0  # half a study: one config only
    assert not (output / "runs" / "flow").exists()
    assert _run(study, output, "--jobs", "2") == 0  # the rest
    return study, output


def test_study_writes_per_seed_table_and_verdicts(finished: tuple[Path, Path]) -> None:
    _, output = finished
    table = (output / "table.md").read_text()
    assert "4 of 4 runs evaluated" in table
    assert "## test" in table and "## val" in table and "Verdicts on test" in table
    with (output / "table.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    keys = {(r["config"], r["seed"], r["split"], r["score"]) for r in rows}
    assert ("none", "1", "test", "energy") in keys and ("none", "0", "val", "msp") in keys
    assert ("flow", "1", "test", "jsd") in keys
    assert not any(r["config"] == "none" and r["score"] == "jsd" for r in rows)  # scores: kept
    line = next(x for x in table.splitlines() if x.startswith("| flow | jsd | 2 |"))
    ap_values = [float(v) for v in line.split("|")[5].split("/")]
    assert len(ap_values) == 2 and all(0 <= v <= 100 for v in ap_values)
    assert "| flow/jsd | none/energy |" in table
    assert "## Seeds chosen on val" in table
    val_ap: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        if r["split"] == "val":
            val_ap.setdefault(r["config"], {}).setdefault(r["score"], []).append(float(r["ap"]))
    chosen = table.split("## Seeds chosen on val")[1].splitlines()
    for config, scores in val_ap.items():  # the primary score: the best mean val AP
        best = max(scores, key=lambda s: sum(scores[s]) / len(scores[s]))
        assert any(x.startswith(f"| {config} | {best} | ") for x in chosen)
    header = next(x for x in table.splitlines() if x.startswith("| config | seeds | mIoU |"))
    assert header.split("|")[4].strip() == "road"  # synthroad's class names, from config.yaml
    segmentation = next(x for x in table.splitlines() if x.startswith("| none | 2 | "))
    assert len(segmentation.split("|")) == len(header.split("|"))  # one IoU per class
    assert any(x.startswith("| none | energy | ") for x in table.splitlines())
    assert (output / "pr_test.png").stat().st_size > 0 and (output / "pr_val.png").is_file()
    flow_summary = json.loads((output / "flows" / "tiny" / "summary.json").read_text())
    assert flow_summary["steps"] == 2 and flow_summary["architecture"]["learned_prior"]


def test_rerun_skips_finished_stages_and_resumes_a_partial_fit(
    finished: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    study, output = finished
    run = output / "runs" / "flow" / "seed1"
    (run / ".study_done").unlink()  # as if the fit had been interrupted after its checkpoint
    before = (output / "runs" / "none" / "seed0" / "last.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert _run(study, output) == 0
    printed = capsys.readouterr().out
    assert "start  fit flow seed 1" in printed
    assert "start  fit none" not in printed and "start  flow tiny" not in printed
    assert "start  evaluate flow seed 1 test" in printed  # evaluations after a rerun are redone
    assert (output / "runs" / "none" / "seed0" / "last.pt").stat().st_mtime_ns == before
    assert "--resume" in (output / "logs" / "fit_flow_seed_1.log").read_text().splitlines()[0]


def test_changed_settings_are_refused_without_overwrite(
    finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study, output = finished
    changed = _study(study.parent, steps=4)
    assert _run(changed, output, "--dry-run") == 0
    assert "changed  fit none seed 0" in capsys.readouterr().out
    assert _run(changed, output) == 2
    assert "ran with other settings; pass --overwrite" in capsys.readouterr().err
    _study(study.parent)  # restore for other tests


def test_bad_study_files_give_one_line_errors(tmp_path: Path) -> None:
    bad = _study(tmp_path, configs={"x": {"flow": "missing"}}, compare=None)
    with pytest.raises(StudyError, match=r"configs\.x\.flow: 'missing' is not one of"):
        load_study(bad)
    bad = _study(tmp_path, configs={"x": {"set": ["negatives.mode=bogus"]}}, compare=None)
    with pytest.raises(StudyError, match=r"negatives\.mode: 'bogus' is not one of"):
        load_study(bad)
    bad = _study(tmp_path, compare=[{"method": "nope/jsd", "against": []}])
    with pytest.raises(StudyError, match="must be CONFIG/SCORE"):
        load_study(bad)


def test_verdict_compares_seeds_not_means() -> None:
    assert verdict([0.30, 0.20], [0.10, 0.15], higher_is_better=True) == "beats"
    assert verdict([0.30, 0.12], [0.10, 0.15], higher_is_better=True) == "level"
    assert verdict([0.05, 0.08], [0.10, 0.15], higher_is_better=True) == "loses"
    assert verdict([0.40, 0.45], [0.60, 0.70], higher_is_better=False) == "beats"


def test_configs_fine_tune_from_the_base_fit_of_their_seed(tmp_path: Path) -> None:
    """The two-stage recipe: one base fit per seed, configs start from it (own steps, own
    splits); nested `set` lists (YAML anchors) are flattened."""
    bases = {"closed": {"steps": 2, "set": ["negatives.mode=none"]}}
    configs = {
        "tuned": {
            "base": "closed",
            "steps": 2,
            "splits": ["val"],
            "set": [["negatives.mode=none"], "optim.freeze_encoder=true"],
        }
    }
    study = _study(tmp_path, seeds=[0], flows=None, bases=bases, configs=configs, compare=None)
    output = tmp_path / "out"
    assert _run(study, output) == 0
    base = output / "bases" / "closed" / "seed0" / "last.pt"
    run = output / "runs" / "tuned" / "seed0"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert base.is_file() and config["model"]["init_checkpoint"] == str(base)
    assert config["optim"]["steps"] == 2 and config["optim"]["freeze_encoder"] is True
    assert (run / "eval_val" / "metrics.json").is_file()
    assert not (run / "eval_test").exists()  # the config's splits only


def test_a_seeds_bases_run_before_the_next_seed_and_splits_name_their_benchmark(
    tmp_path: Path,
) -> None:
    from dense_ood_train.study.runner import StudyRunner, _needs_first

    splits = {"val": {"split": "val"}, "other": {"benchmark": "camvid-pasted", "split": "val"}}
    study = load_study(
        _study(
            tmp_path,
            bases={"closed": {"steps": 2}},
            configs={"a": {"base": "closed"}, "b": {"base": "closed", "flow": "tiny"}},
            evaluation={"benchmark": "synthroad-ood", "splits": splits},
            compare=None,
        )
    )
    assert study.split_benchmark("other") == ("camvid-pasted", {"split": "val"})
    assert study.split_benchmark("val") == ("synthroad-ood", {"split": "val"})
    prerequisites, runs = StudyRunner(study, tmp_path / "out").stages([])
    order = [stage.name for stage in _needs_first([*runs, *prerequisites])]
    assert order == [
        "base closed seed 0",
        "fit a seed 0",
        "flow tiny",
        "fit b seed 0",
        "base closed seed 1",
        "fit a seed 1",
        "fit b seed 1",
    ]
    bad = _study(tmp_path, configs={"x": {"base": "nope"}}, compare=None)
    with pytest.raises(StudyError, match=r"configs\.x\.base: 'nope' is not one of"):
        load_study(bad)
    bad = _study(tmp_path, configs={"x": {"splits": ["nope"]}}, compare=None)
    with pytest.raises(StudyError, match=r"configs\.x\.splits: 'nope' is not a split"):
        load_study(bad)


def test_ctrl_c_stops_the_running_stages_and_starts_no_more(tmp_path: Path) -> None:
    """SIGINT to the study (as Ctrl-C, or a kill of the study alone) ends its running stage,
    hands out no other, and says how to resume; the next run resumes."""
    import signal
    import subprocess
    import sys
    import time

    configs = {"none": {"set": ["negatives.mode=none"]}}
    study = _study(tmp_path, seeds=[0], flows=None, configs=configs, compare=None)
    output = tmp_path / "out"
    argv = [sys.executable, "-m", "dense_ood_train.cli", "study", str(study)]
    process = subprocess.Popen(
        [*argv, "--output", str(output)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C's disposition, whatever the caller's (a background job of a script ignores it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (output / "logs").is_dir() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, (out, err)
    assert "interrupted: the running stages were stopped" in err
    assert out.count("start ") == 1 and "stopped " in out  # one stage ran, none after it
    assert not (output / "runs" / "none" / "seed0" / DONE_MARKER).exists()
    assert _run(study, output) == 0  # the same command resumes and finishes
