"""`dense-ood soak`'s verdict and outputs, from made-up samples (the soak itself is a benchmark
that runs the node for minutes; docs/node.md has a real run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from dense_ood_ros.tools import cli
from dense_ood_ros.tools.soak import SoakError, SoakResult, summarize, write_outputs

MIB = 2**20


def made_up(growth_mib: float, frames: int = 1000) -> SoakResult:
    """RSS sampled every 10 frames: a 40 MiB warm-up jump, then `growth_mib` spread evenly."""
    result = SoakResult(frames_asked=frames, seconds=100.0)
    for frame in range(10, frames + 1, 10):
        warm = 200 if frame < 50 else 240
        rss = warm + growth_mib * frame / frames
        result.rss.append((frame / 10, frame, int(rss * MIB)))
        for camera in (0, 1):
            result.latency.append((frame, camera, frame / 10, 0.010 + 0.001 * camera))
    return result


def test_flat_memory_after_warm_up_is_flat() -> None:
    summary = summarize(made_up(0.0), warmup=0.1, max_growth_mib=10)
    assert summary["memory_flat"] is True
    assert summary["rss_mib"]["growth"] == pytest.approx(0.0)
    assert summary["rss_mib"]["first_sample"] == pytest.approx(200.0)  # the warm-up is left out
    assert summary["frames_completed"] == 1000
    assert summary["latency_ms"]["p50"] == pytest.approx(10.5)
    assert summary["latency_ms"]["max"] == pytest.approx(11.0)


def test_steady_growth_is_reported() -> None:
    summary = summarize(made_up(40.0), warmup=0.1, max_growth_mib=10)
    assert summary["memory_flat"] is False
    assert 30 < summary["rss_mib"]["growth"] < 40
    assert summary["rss_mib"]["slope_per_1000_frames"] == pytest.approx(40.0, rel=0.01)


def test_too_short_a_run_is_an_error() -> None:
    with pytest.raises(SoakError, match="too few RSS samples"):
        summarize(SoakResult(frames_asked=10), warmup=0.1, max_growth_mib=10)


def test_outputs_are_written(tmp_path: Path) -> None:
    args = argparse.Namespace(
        output=tmp_path, warmup=0.1, max_growth_mib=10.0, model=Path("m.onnx"), cameras=2
    )
    summary = write_outputs(args, made_up(0.0))
    assert json.loads((tmp_path / "summary.json").read_text())["memory_flat"] is True
    assert summary["cameras"] == 2
    lines = (tmp_path / "latency.csv").read_text().splitlines()
    assert lines[0] == "frame,camera,seconds,latency_ms" and len(lines) == 201
    assert (tmp_path / "samples.csv").read_text().count("\n") == 101
    assert (tmp_path / "soak.png").read_bytes()[:4] == b"\x89PNG"


def test_soak_is_a_dense_ood_command() -> None:
    parser = cli.build_parser("dense-ood", "", cli.COMMANDS)
    args = parser.parse_args(["soak", "--frames", "50", "--output", "/tmp/x"])
    assert (args.frames, args.cameras, args.output) == (50, 2, Path("/tmp/x"))
    assert args.model.name == "synthroad_nflowjs.onnx" and args.model.is_file()


def test_soak_refuses_to_replace_earlier_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "summary.json").write_text("{}")
    assert cli.main(["soak", "--frames", "50", "--output", str(tmp_path)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "summary.json").read_text() == "{}"
