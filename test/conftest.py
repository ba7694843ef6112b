"""Shared fixtures for the runtime tests: small contract-1 models from test/models/.

Those files were exported by our own training exporter (scripts/make_test_models.py; a training
test keeps them in step with it), so this suite needs neither torch nor dense_ood_train.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: the committed fixture models (see models/README.md)
MODELS = Path(__file__).resolve().parent / "models"

#: the contract of every fixture model (scripts/make_test_models.py writes the same)
TINY_CLASSES = ("road", "sidewalk", "car", "sky")
TINY_PALETTE = ((128, 64, 128), (244, 35, 232), (0, 0, 142), (70, 130, 180))
TINY_INPUT_HW = (64, 96)


def fixture_model(name: str, folder: Path) -> Path:
    """A copy of test/models/`name` in `folder`, so that what a test writes beside its model
    (caches, quantized copies) never lands in the checkout."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(MODELS / name, folder / name))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A contract-1 ONNX model, 64x96 input, JSD score plus every extra score."""
    return fixture_model("tiny.onnx", tmp_path_factory.mktemp("models"))


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
    """The tiny model quantized by `dense-ood quantize` (16 calibration frames); skipped in an
    install without the `quantize` extra (onnx, sympy)."""
    for module in ("onnx", "sympy"):
        pytest.importorskip(module, reason="needs the quantize extra: pip install .[quantize]")
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
