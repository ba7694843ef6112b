"""Files shipped with the package: the demo model and sample frames, installed or in a checkout."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "dense_ood_ros"
DEMO_MODEL_NAME = "camvid_nflowjs.onnx"
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _share_dirs() -> list[Path]:
    """share/dense_ood_ros of a colcon install (ament index), of a pip install (the
    environment's prefix, where setup.py's data_files go), then the source checkout."""
    pip_share = Path(sys.prefix) / "share" / PACKAGE
    try:
        from ament_index_python.packages import get_package_share_directory

        # LookupError: package not installed; OSError: AMENT_PREFIX_PATH unset (pip install)
        return [Path(get_package_share_directory(PACKAGE)), pip_share, SOURCE_ROOT]
    except (ImportError, LookupError, OSError):
        return [pip_share, SOURCE_ROOT]


def bundled_model(name: str) -> Path | None:
    """A model shipped in models/ (installed or in the checkout), or None where it is not."""
    for share in _share_dirs():
        candidate = share / "models" / name
        if candidate.is_file():
            return candidate
    return None


def demo_model_path() -> Path | None:
    """The bundled default model (models/camvid_nflowjs.onnx), or None where it is not shipped."""
    return bundled_model(DEMO_MODEL_NAME)


def config_file(name: str) -> Path | None:
    """A file of the package's config/ (e.g. the Fast DDS profile), installed or in the
    checkout; None where it is not shipped."""
    for share in _share_dirs():
        candidate = share / "config" / name
        if candidate.is_file():
            return candidate
    return None


def sample_frames_dir() -> Path:
    """The bundled sample camera frames (data/samples), installed or in the checkout."""
    for share in _share_dirs():
        candidate = share / "data" / "samples"
        if candidate.is_dir():
            return candidate
    return SOURCE_ROOT / "data" / "samples"


def default_demo_model() -> Path:
    """Where `dense-ood demo` looks for its model by default (may not exist)."""
    return demo_model_path() or SOURCE_ROOT / "models" / DEMO_MODEL_NAME
