"""`dense-ood replay` as a fleet on a real local Ray cluster, with bags written by rosbags: bad
bags fail alone, outputs mirror the input tree, merged metrics hold the exact ones within their
bounds, reruns resume and never overwrite without --overwrite; without Ray, one install line."""

from __future__ import annotations

import json
import sys
from pathlib import Path, PurePosixPath

import pytest
from test_replay import (  # skips this module too where rosbags is missing
    camera_msgs,
    label_msgs,
    read_bag,
    replay,
    write_bag,
)

from dense_ood_ros.replay.fleet import STATE_DIR, FleetSettings
from dense_ood_ros.replay.inputs import input_bags
from dense_ood_ros.replay.session import ReplayOptions

LABELS = "/cam/labels"
GOOD = ("day1/front", "day2/side", "day2/clip")
FAILED = {"day1/broken": "not a readable bag", "day3/nolabels": "no labels topic /cam/labels"}


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster (2 CPUs, no dashboard) for the module's fleets."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def fleet_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """day1/front (MCAP), day2/side (SQLite3), day2/clip.mcap (a lone file), all labelled;
    day1/broken.mcap (garbage) and day3/nolabels (no labels topic)."""
    root = tmp_path_factory.mktemp("fleet") / "drives"
    labelled = [("day1/front", "mcap", 0), ("day2/side", "sqlite3", 3), ("day2/lone", "mcap", 6)]
    for name, storage, start in labelled:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        msgs = camera_msgs("/cam/image_raw", 3, start=start) + label_msgs(LABELS, 3)
        write_bag(root / name, msgs, storage)
    lone = next((root / "day2/lone").glob("*.mcap"))
    lone.rename(root / "day2/clip.mcap")
    for path in (root / "day2/lone").iterdir():
        path.unlink()
    (root / "day2/lone").rmdir()
    (root / "day1/broken.mcap").write_bytes(b"\x89MCAP0\r\n not really")
    (root / "day3").mkdir()
    write_bag(root / "day3/nolabels", camera_msgs("/cam/image_raw", 2))
    return root


def fleet(root: Path, out: Path, report: Path, *extra: str, model: Path) -> int:
    args = [str(root), "--model", str(model), "--output", str(out), "--report", str(report)]
    return replay(*args, "--labels-topic", LABELS, "--workers", "2", *extra)


def test_inputs_mirror_the_tree_and_lists_resolve_against_their_folder(
    fleet_inputs: Path, tmp_path: Path
) -> None:
    names = {str(b.relative) for b in input_bags([fleet_inputs])}
    assert names == {*GOOD, *FAILED}
    # a fleet's own outputs inside the searched folder are not inputs
    kept = {str(b.relative) for b in input_bags([fleet_inputs], exclude=fleet_inputs / "day2")}
    assert kept == {"day1/front", *FAILED}
    listing = fleet_inputs / "some.txt"
    listing.write_text("# two bags\nday1/front\n\nday2/clip.mcap\n")
    try:
        bags = input_bags([f"@{listing}"])
    finally:
        listing.unlink()
    assert sorted(str(b.relative) for b in bags) == ["day1/front", "day2/clip"]


def test_fleet_reports_bad_bags_mirrors_outputs_and_bounds_the_exact_metrics(
    ray_cluster, fleet_inputs: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "out", tmp_path / "report"
    assert fleet(fleet_inputs, out, report, model=tiny_model) == 1  # two bags failed
    result = json.loads((report / "report.json").read_text())
    section = result["fleet"]
    assert section["bags"] == 5 and section["bags_done"] == 3 and section["bags_failed"] == 2
    for bag, reason in FAILED.items():
        assert reason in section["failed"][bag], section["failed"]
        assert (report / "logs" / f"{bag}.log").is_file()
    for bag in GOOD:  # one output bag per input bag, mirroring the input tree
        assert len(read_bag(out / bag)["/cam/dense_ood/semantic"]) == 3
    assert result["frames_processed"] == 9 and result["frames_labelled"] == 9
    assert "| day1/broken | failed |" in (report / "report.md").read_text()
    # the exact metrics of the same bags, replayed by one process
    single = tmp_path / "single_report"
    good = [str(fleet_inputs / b) for b in ("day1/front", "day2/side", "day2/clip.mcap")]
    args = [*good, "--model", str(tiny_model), "--output", str(tmp_path / "single")]
    assert replay(*args, "--labels-topic", LABELS, "--report", str(single)) == 0
    exact = json.loads((single / "report.json").read_text())["metrics"]["jsd"]
    merged = result["metrics"]["jsd"]
    for key in ("ap", "fpr95", "auroc", "best_f1"):
        low, high = merged["bounds"][key]
        assert low - 1e-12 <= exact[key] <= high + 1e-12, (key, low, exact[key], high)
    assert merged["num_positive"] == exact["num_positive"]
    assert merged["num_void"] == exact["num_void"]
    gt_components = exact["components"]["num_gt_components"]  # independent of the threshold
    assert merged["components"]["num_gt_components"] == gt_components
    # obstacle counts add up exactly: the pooled recall and false obstacles are the single run's
    single_obstacles = json.loads((single / "report.json").read_text())["obstacles"]
    pooled_obstacles = result["obstacles"]
    for key in ("frames", "obstacles", "with_position"):
        assert pooled_obstacles[key] == single_obstacles[key], key
    assert pooled_obstacles["metrics"] == single_obstacles["metrics"]
    assert pooled_obstacles["metrics"]["frames"] == 9
    assert all("obstacle_recall" in row for row in section["per_bag"])


def test_rerun_resumes_and_never_overwrites_without_overwrite(
    ray_cluster, fleet_inputs: Path, tiny_model: Path, tmp_path: Path, capsys
) -> None:
    out, report = tmp_path / "out", tmp_path / "report"
    assert fleet(fleet_inputs, out, report, model=tiny_model) == 1
    first = json.loads((report / "report.json").read_text())
    stamps = {bag: (out / bag / "metadata.yaml").stat().st_mtime_ns for bag in GOOD}
    # a run stopped while day2/side was being written: its marker says "started"
    marker = out / STATE_DIR / "day2/side.json"
    state = json.loads(marker.read_text())
    marker.write_text(json.dumps({"state": "started", "config": state["config"]}))
    assert fleet(fleet_inputs, out, report, model=tiny_model) == 1
    again = json.loads((report / "report.json").read_text())
    statuses = {row["bag"]: row["status"] for row in again["fleet"]["per_bag"]}
    assert statuses == {"day1/front": "skipped", "day2/clip": "skipped", "day2/side": "done",
                        "day1/broken": "failed", "day3/nolabels": "failed"}  # fmt: skip
    assert (out / "day1/front/metadata.yaml").stat().st_mtime_ns == stamps["day1/front"]
    for key in ("ap", "fpr95", "auroc"):  # the skipped bags' summaries are pooled as before
        assert again["metrics"]["jsd"][key] == first["metrics"]["jsd"][key]
    # another command (other options) refuses to replace the outputs ...
    capsys.readouterr()
    assert fleet(fleet_inputs, out, report, "--no-overlay", model=tiny_model) == 1
    refused = json.loads((report / "report.json").read_text())["fleet"]["failed"]
    assert all("pass --overwrite" in refused[bag] for bag in GOOD), refused
    assert (out / "day1/front/metadata.yaml").stat().st_mtime_ns == stamps["day1/front"]
    # ... unless asked to
    assert fleet(fleet_inputs, out, report, "--no-overlay", "--overwrite", model=tiny_model) == 1
    replaced = json.loads((report / "report.json").read_text())["fleet"]
    assert replaced["bags_done"] == 3
    assert "/cam/dense_ood/overlay" not in read_bag(out / "day1/front")


def test_workers_without_ray_is_one_install_line(
    fleet_inputs: Path, tiny_model: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "out"
    assert fleet(fleet_inputs, out, tmp_path / "report", model=tiny_model) == 2
    err = capsys.readouterr().err
    assert "pip install 'dense_ood_ros[fleet]'" in err and err.count("\n") == 1, err
    assert not out.exists()
    # the single-process path needs no Ray
    bag = str(fleet_inputs / "day1/front")
    assert replay(bag, "--model", str(tiny_model), "--output", str(tmp_path / "single")) == 0


def test_a_worker_that_dies_is_retried_once_then_reported(ray_cluster, tmp_path: Path) -> None:
    from dense_ood_ros.replay.fleet.cluster import MAX_RETRIES, gather
    from dense_ood_ros.replay.inputs import InputBag

    def die(marks: str) -> None:
        """A worker that dies (as on a crash in native code), leaving a mark per attempt."""
        import os

        with open(marks, "a") as f:
            f.write("attempt\n")
        os._exit(1)

    marks = tmp_path / "marks.txt"
    task = ray_cluster.remote(max_retries=MAX_RETRIES, num_cpus=1)(die)
    bag = InputBag(tmp_path / "drive", PurePosixPath("day1/drive"))
    options = ReplayOptions(bags=[], output=tmp_path / "out")
    settings = FleetSettings(tmp_path / "m.onnx", tmp_path / "out", options)
    outcome = gather(ray_cluster, task.remote(str(marks)), bag, settings)
    assert marks.read_text().count("attempt") == 2  # the first run and one retry
    assert outcome.status == "failed" and outcome.reason.startswith("worker failed twice")
    assert outcome.output == str(tmp_path / "out" / "day1" / "drive")
