"""`dense-ood demo`: argument checks without ROS, and one real run against the live node."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from dense_ood_ros.codec.image_codec import image_files, read_rgb
from dense_ood_ros.console.cli import build_parser
from dense_ood_ros.tools import demo
from dense_ood_ros.tools.cli import COMMANDS
from dense_ood_ros.tools.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]


def _images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "a_frame.png"), rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "b_frame.jpg"), rng.integers(0, 256, (50, 130, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_defaults_serve_the_bundled_model_on_the_sample_frames(tmp_path: Path) -> None:
    """`dense-ood demo` without --model and --images: a readable model and frames to publish."""
    parser = build_parser("dense-ood", "test", {"demo": COMMANDS["demo"]})
    args = parser.parse_args(["demo", "--output", str(tmp_path / "out")])
    frames = demo._check_inputs(args)
    assert len(frames) >= 5 and all(read_rgb(path).shape[2] == 3 for path in frames)
    contract = demo._read_contract(args.model)
    assert contract.num_classes == len(contract.class_names) > 1
    assert min(contract.input_hw) > 0


def test_node_and_demo_get_the_shipped_fastdds_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped profile, with a segment holding a few of the sample frames and their five
    outputs (15 bytes a pixel); a profile the user set wins."""
    import xml.etree.ElementTree as ET

    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)
    env = demo._fastdds_env()
    path = Path(env["FASTRTPS_DEFAULT_PROFILES_FILE"])
    assert path.read_bytes() == (ROOT / "config" / "fastdds_large_frames.xml").read_bytes()
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(path)
    segment = next(e for e in ET.parse(path).iter() if e.tag.endswith("segment_size"))
    pixels = max(
        read_rgb(f).shape[0] * read_rgb(f).shape[1] for f in image_files(demo.DEFAULT_IMAGES)
    )
    assert int(segment.text or 0) >= 3 * 15 * pixels
    monkeypatch.setenv("FASTRTPS_DEFAULT_PROFILES_FILE", "/my/profile.xml")
    assert demo._fastdds_env() == {}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no_model", "no model at"),
        ("no_images", "no image folder at"),
        ("empty_images", "holds no"),
        ("full_output", "is not empty; pass --overwrite"),
        ("not_contract", "not a readable ONNX model"),
    ],
)
def test_bad_arguments_give_one_error_line(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    model, images, output = tiny_model, _images(tmp_path / "images"), tmp_path / "out"
    if case == "no_model":
        model = tmp_path / "absent.onnx"
    elif case == "no_images":
        images = tmp_path / "absent"
    elif case == "empty_images":
        images = tmp_path / "empty"
        images.mkdir()
    elif case == "full_output":
        output.mkdir()
        (output / "old.png").write_bytes(b"x")
    elif case == "not_contract":
        model = tmp_path / "garbage.onnx"
        model.write_bytes(b"garbage")
    argv = ["demo", "--model", str(model), "--images", str(images), "--output", str(output)]
    assert cli_main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dense-ood demo: error: ") and message in err[0]


def test_heat_map_uses_the_fixed_range_of_the_jsd_score() -> None:
    score = np.array([[0.0, 0.5, 1.0]], np.float32)
    inferno = cv2.applyColorMap(np.array([[0, 128, 255]], np.uint8), cv2.COLORMAP_INFERNO)
    np.testing.assert_array_equal(demo.heat_map(score, "jsd"), inferno)
    np.testing.assert_array_equal(demo.heat_map(score * 0.5, "jsd")[0, 2], inferno[0, 1])
    # Other scores (any range, e.g. negative max logit) use the frame's own range.
    np.testing.assert_array_equal(demo.heat_map(score * 8 - 20, "maxlogit"), inferno)


def test_obstacles_from_the_received_images_and_their_picture(tiny_model: Path) -> None:
    """A blob on the road of a 128x192 frame: one obstacle, ~5.5 m ahead through the assumed
    camera (focal 0.9 x 192 px, horizon at row 75.5, 1.4 m up), boxed in the picture."""
    contract = demo._read_contract(tiny_model)
    score = np.zeros((128, 192), np.float32)
    score[100:120, 80:120] = 0.9
    semantic = np.zeros((128, 192), np.uint8)  # road
    camera = demo.assumed_camera(128, 192, 1.4)
    (placed,) = demo.obstacles_of(score, semantic, contract, 0.6, camera)
    assert placed.image.box == (80, 100, 120, 120) and placed.image.stands_on == "road"
    expected = 0.9 * 192 * 1.4 / (119.5 - 0.59 * 128)
    assert placed.distance_m == pytest.approx(expected, rel=0.05)
    assert demo.obstacles_of(score, semantic, contract, 0.95, camera) == []
    overlay = np.zeros((128, 192, 3), np.uint8)
    picture = demo.draw_obstacles(overlay, [placed])
    assert picture.shape == overlay.shape and not overlay.any()  # a copy, drawn on
    assert picture[100:120, 80].any() and not picture[60:70, 150:190].any()
    report = demo.FrameReport("f.png", 128, 192, 1.0, 2.0, [placed])
    text = demo.obstacle_text([report, demo.FrameReport("g.png", 1, 1, 1.0, 0.0, [])], 1.4)
    assert "ASSUMED camera 1.4 m" in text and "g.png: no obstacle(s)" in text
    line = f"box (80, 100)-(120, 120), 800 px, stands on road, {placed.distance_m:.1f} m ahead"
    assert line in text


@pytest.mark.ros
def test_demo_runs_the_node_and_writes_every_output(tmp_path: Path, tiny_model: Path) -> None:
    images, output = _images(tmp_path / "images"), tmp_path / "out"
    command = [sys.executable, "-m", "dense_ood_ros.tools.cli", "demo", "--model", str(tiny_model)]
    command += ["--images", str(images), "--output", str(output), "--encoding", "bgr8"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for stem, hw in (("a_frame", (64, 96)), ("b_frame", (50, 130))):
        for suffix in ("overlay", "semantic_color", "anomaly_heat", "anomaly_mask", "obstacles"):
            image = cv2.imread(str(output / f"{stem}_{suffix}.png"), cv2.IMREAD_UNCHANGED)
            assert image is not None and image.shape[:2] == hw, (stem, suffix)
        mask = cv2.imread(str(output / f"{stem}_anomaly_mask.png"), cv2.IMREAD_UNCHANGED)
        assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 255}
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("b_frame.jpg"))
    size, latency, percent = row.split()[1:]
    assert size == "50x130" and float(latency) > 0 and 0 <= float(percent) <= 100
    assert "classes (4): road, sidewalk, car, sky" in result.stdout
    assert "score: jsd; anomaly threshold 0.6 (the model default)" in result.stdout
    assert "ASSUMED camera 1.4 m above flat ground" in result.stdout
    assert "b_frame.jpg: " in result.stdout.split("obstacles (cut from")[1]
    # A second run refuses the now non-empty output folder.
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert again.returncode == 1 and "--overwrite" in again.stderr
