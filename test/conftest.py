"""Shared fixtures for the runtime tests: small contract-1 models exported by our own exporter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TINY_CLASSES = ("road", "sidewalk", "car", "sky")
TINY_PALETTE = ((128, 64, 128), (244, 35, 232), (0, 0, 142), (70, 130, 180))
TINY_INPUT_HW = (64, 96)


def export_tiny_model(path: Path, input_hw: tuple[int, int] = TINY_INPUT_HW, seed: int = 0) -> Path:
    """Export a small random conv segmenter (4 classes) through the real training exporter."""
    torch = pytest.importorskip("torch")
    from dense_ood_train.export.onnx_export import export_contract_model, make_contract

    torch.manual_seed(seed)
    segmenter = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 16, 3, padding=2, dilation=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, len(TINY_CLASSES), 1),
    )
    contract = make_contract(
        TINY_CLASSES, TINY_PALETTE, input_hw, score="jsd", threshold=0.6, extra_scores=True
    )
    return export_contract_model(segmenter, path, contract)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A contract-1 ONNX model, 64x96 input, JSD score plus every extra score."""
    return export_tiny_model(tmp_path_factory.mktemp("models") / "tiny.onnx")


def write_pictures(folder: Path, count: int, seed: int = 0) -> Path:
    """Smooth random scenes (blurred noise) at a camera size (120x180), as PNG files, and one
    file that is not a picture."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        noise = rng.integers(0, 256, (120, 180, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"frame_{index:03d}.png"), cv2.GaussianBlur(noise, (9, 9), 3))
    (folder / "notes.txt").write_text("not a picture")
    return folder


@pytest.fixture(scope="session")
def calibration_pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 camera pictures for calibration."""
    return write_pictures(tmp_path_factory.mktemp("calibration") / "frames", 24)


@pytest.fixture(scope="session")
def int8_tiny_model(
    tiny_model: Path, calibration_pictures: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny model quantized by `dense-ood quantize` (16 calibration frames)."""
    pytest.importorskip("onnx")
    from dense_ood_ros.tools import cli

    output = tmp_path_factory.mktemp("int8") / "tiny_int8.onnx"
    argv = ["quantize", str(tiny_model), "--output", str(output), "--calibration-dir",
            str(calibration_pictures), "--frames", "16"]  # fmt: skip
    assert cli.main(argv) == 0
    return output


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real photos and bags); tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (fresh clone)")
    return SHARED_DATA
