"""What every command does before writing: refuse to replace earlier outputs unless asked."""

from __future__ import annotations

from pathlib import Path

from dense_ood_ros.errors import DenseOodError


class OutputExistsError(DenseOodError, FileExistsError):
    """An output file or folder already holds results and --overwrite was not given."""


def check_output_file(path: Path, overwrite: bool, option: str = "--output") -> Path:
    """`path` may be written: it does not exist, or `overwrite` is set."""
    if path.is_dir():
        raise OutputExistsError(f"{option} {path} is a folder, not a file")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{option} {path} exists; pass --overwrite to replace it")
    return path


def check_output_folder(path: Path, overwrite: bool, option: str = "--output") -> Path:
    """`path` may be written into: it is absent or empty, or `overwrite` is set."""
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{option} {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputExistsError(f"{option} {path} is not empty; pass --overwrite to replace it")
    return path
