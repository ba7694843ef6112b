"""`dense-ood bench`: runs on a real model with few iterations and prints the comparison."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from dense_ood_ros.console.cli import build_parser, run_cli
from dense_ood_ros.tools import cli

TENSORRT_INSTALLED = importlib.util.find_spec("tensorrt") is not None


def _bench(argv: list[str]) -> int:
    """The bench subcommand exactly as `dense-ood` builds it (other subcommands left out)."""
    parser = build_parser("dense-ood", "test", {"bench": cli.COMMANDS["bench"]})
    return run_cli(parser, ["bench", *argv])


def test_bench_is_a_dense_ood_subcommand(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: dense-ood bench")


def test_help_explains_every_option(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        _bench(["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # help lines wrap at the terminal width
    for option in (
        "--model", "--height", "--width", "--backend", "--iterations", "--warmup",
        "--encoding", "--no-color", "--no-overlay", "--threshold", "--image", "--json",
        "--overwrite", "--no-reduced-decode", "--compare-full-decode", "CompressedImage JPEG",
        "--no-obstacles",
    ):  # fmt: skip
        assert option in text
    assert "engine-only" in text or "Engine only" in text


def test_bench_prints_the_table(tiny_model: Path, capsys) -> None:
    args = ["--model", str(tiny_model), "--height", "48", "--width", "80"]
    assert _bench([*args, "--iterations", "3", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    stages = ("decode", "preprocess", "engine", "postprocess", "obstacles", "color", "overlay",
              "messages")  # fmt: skip
    for stage in stages:
        assert f"  {stage} " in out
    assert "pipeline (full path)" in out and "engine only" in out
    assert "overhead of the full path over engine only" in out and "%" in out
    assert "camera 48x80 bgr8" in out and "input 64x96" in out
    assert "stages other than the engine" in out
    assert "full path / engine only: " in out and "obstacles: " in out and "per frame" in out


def test_bench_options_and_json(tiny_model: Path, tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "out" / "bench.json"
    args = [
        "--model", str(tiny_model), "--height", "30", "--width", "40", "--iterations", "2",
        "--warmup", "0", "--encoding", "yuv422", "--no-color", "--no-overlay",
        "--threshold", "0.25", "--json", str(report_path),
    ]  # fmt: skip
    assert _bench(args) == 0
    report = json.loads(report_path.read_text())
    assert report["camera_hw"] == [30, 40] and report["encoding"] == "yuv422"
    assert report["iterations"] == 2 and report["backend"] == "onnxruntime"
    from dense_ood_ros.codec.messages import image_decoder

    assert report["decoder"] == image_decoder()  # the node's decoder, not a private path
    assert report["threshold"] == 0.25
    assert "color" not in report["stages_ms"] and "overlay" not in report["stages_ms"]
    total, engine = report["stages_ms"]["total"]["mean"], report["engine_only_ms"]["mean"]
    assert report["overhead_percent"]["mean"] == pytest.approx(100 * (total - engine) / engine)
    assert 0 < report["non_engine_ms"] < total
    assert 0.0 <= report["anomaly_fraction"] <= 1.0
    # obstacles are their own stage, and the ratio of the full path to the engine is reported
    assert report["stages_ms"]["obstacles"]["mean"] > 0 and report["obstacles_per_frame"] >= 0
    assert report["obstacles"] == {"min_pixels": 64, "max_count": 32, "opening_px": 3}
    assert report["full_over_engine"]["mean"] == pytest.approx(total / engine)
    capsys.readouterr()
    assert _bench(args) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert _bench([*args, "--overwrite"]) == 0


def test_no_obstacles_drops_the_stage(tiny_model: Path, tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "bench.json"
    args = ["--model", str(tiny_model), "--height", "30", "--width", "40", "--iterations", "2",
            "--warmup", "0", "--no-obstacles", "--json", str(report_path)]  # fmt: skip
    assert _bench(args) == 0
    assert "obstacles: off (--no-obstacles)" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert "obstacles" not in report["stages_ms"] and report["obstacles"] is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--height", "0", "--width", "10"], "must be positive"),
        (["--height", "10", "--width", "10", "--iterations", "0"], "--iterations"),
    ],
)
def test_bad_arguments_give_one_line_errors(tiny_model, capsys, argv, expected) -> None:
    assert _bench(["--model", str(tiny_model), *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.skipif(TENSORRT_INSTALLED, reason="TensorRT is installed: it would build the plan")
def test_tensorrt_without_tensorrt_is_one_clear_line(tiny_model, capsys) -> None:
    argv = ["--model", str(tiny_model), "--height", "10", "--width", "10", "--backend", "tensorrt"]
    assert _bench(argv) == 2
    err = capsys.readouterr().err
    assert "TensorRT is not installed here" in err and err.count("\n") == 1


def test_bad_model_gives_one_line_error(tmp_path: Path, capsys) -> None:
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"not a model")
    assert _bench(["--model", str(garbage), "--height", "8", "--width", "8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dense-ood bench: error:") and "not a readable ONNX model" in err
    assert err.count("\n") == 1


def test_bench_on_a_picture(tiny_model: Path, tmp_path: Path, capsys) -> None:
    import cv2
    import numpy as np

    picture = tmp_path / "frame.png"
    cv2.imwrite(str(picture), np.full((20, 30, 3), 90, np.uint8))
    args = ["--model", str(tiny_model), "--height", "40", "--width", "60", "--iterations", "1"]
    assert _bench([*args, "--image", str(picture)]) == 0
    assert f"({picture})" in capsys.readouterr().out
    assert _bench([*args, "--image", str(tmp_path / "absent.png")]) == 2
    assert "cannot read image" in capsys.readouterr().err


def test_bench_replay_compares_replay_and_engine_throughput(
    tiny_model: Path, tmp_path: Path, capsys
) -> None:
    from test_replay import camera_msgs, write_bag

    bag = write_bag(tmp_path / "drive", camera_msgs("/cam/image_raw", 4))
    report_path = tmp_path / "bench.json"
    assert (
        _bench(["--model", str(tiny_model), "--replay", str(bag), "--json", str(report_path)]) == 0
    )
    assert "frames/s engine alone on the same frames" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert report["frames_processed"] == 4
    assert report["replay_frames_per_s"] > 0 and report["engine_only_frames_per_s"] > 0
    expected = report["replay_frames_per_s"] / report["engine_only_frames_per_s"]
    assert report["replay_over_engine_throughput"] == pytest.approx(expected)
    assert _bench(["--model", str(tiny_model), "--height", "8"]) == 2
    assert "--height and --width are required" in capsys.readouterr().err


def test_bench_outputs_at_the_model_size(tiny_model: Path, tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "bench.json"
    args = ["--model", str(tiny_model), "--height", "128", "--width", "192", "--iterations", "2",
            "--output-size", "model", "--json", str(report_path)]  # fmt: skip
    assert _bench(args) == 0
    assert "outputs at the model size" in capsys.readouterr().out
    assert json.loads(report_path.read_text())["output_size"] == "model"


def test_bench_cameras_batched_against_one_by_one(tiny_model: Path, tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "cameras.json"
    args = ["--model", str(tiny_model), "--height", "64", "--width", "96", "--iterations", "2",
            "--warmup", "0", "--cameras", "1", "3", "--json", str(report_path)]  # fmt: skip
    assert _bench(args) == 0
    assert "one by one fps" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert [row["cameras"] for row in report] == [1, 3]
    assert all(row["batched_fps"] > 0 and row["one_by_one_fps"] > 0 for row in report)


def test_against_compares_engines_on_the_same_frames(tiny_model, int8_tiny_model, tmp_path, capsys):
    report = tmp_path / "against.json"
    argv = ["--model", str(tiny_model), "--backend", "onnxruntime", "--against",
            str(int8_tiny_model), "--iterations", "3", "--warmup", "1",
            "--json", str(report)]  # fmt: skip
    assert _bench(argv) == 0
    out = capsys.readouterr().out
    assert (
        "| tiny.onnx (onnxruntime) | fp32 |" in out
        and "| tiny_int8.onnx (onnxruntime) | int8 |" in out
    )
    rows = json.loads(report.read_text())
    assert [row["precision"] for row in rows] == ["fp32", "int8"]
    assert (
        rows[0]["agreement"] == 1.0
        and rows[0]["score_max_abs"] == 0.0
        and rows[0]["speedup"] == 1.0
    )
    assert 0.5 < rows[1]["agreement"] <= 1.0 and rows[1]["median_ms"] > 0


def test_against_refuses_models_with_another_contract(tiny_model, tmp_path, capsys) -> None:
    from conftest import fixture_model

    other = fixture_model("wide.onnx", tmp_path)  # 64x128 input: another contract
    assert _bench(["--model", str(tiny_model), "--against", str(other)]) == 2
    assert "is not comparable" in capsys.readouterr().err


def test_profile_ops_lists_operator_times(tiny_model, capsys) -> None:
    assert _bench(["--model", str(tiny_model), "--profile-ops", "--iterations", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny.onnx: ") and "| Conv | 3 |" in out


def test_jpeg_camera_decodes_at_a_reduced_scale_for_outputs_at_the_model_size(
    tiny_model: Path, tmp_path: Path, capsys
) -> None:
    """A JPEG CompressedImage camera: decoded at the smallest 1/2^k scale still covering the
    model's 64x96 input when outputs are at the model size; at full size otherwise."""
    args = ["--model", str(tiny_model), "--height", "256", "--width", "384", "--iterations",
            "2", "--warmup", "0", "--encoding", "jpeg", "--overwrite"]  # fmt: skip
    decoded = {}
    for name, extra in (
        ("reduced", ["--output-size", "model", "--compare-full-decode"]),
        ("full", ["--output-size", "model", "--no-reduced-decode"]),
        ("camera", ["--output-size", "camera"]),
    ):
        report_path = tmp_path / f"{name}.json"
        assert _bench([*args, *extra, "--json", str(report_path)]) == 0
        out = capsys.readouterr().out
        assert "camera 256x384 jpeg" in out and "overhead of the full path" in out
        report = json.loads(report_path.read_text())
        assert report["encoding"] == "jpeg" and report["stages_ms"]["decode"]["mean"] > 0
        decoded[name] = report["decoded_hw"]
        if name == "reduced":  # the before, timed in the same rounds
            before = report["full_decode"]
            assert before["decoded_hw"] == [256, 384] and "decoded at full size (256x384)" in out
            assert before["stages_ms"]["total"]["mean"] > 0 and before["non_engine_ms"] > 0
        else:
            assert "full_decode" not in report
    assert decoded == {"reduced": [64, 96], "full": [256, 384], "camera": [256, 384]}
