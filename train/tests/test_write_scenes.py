"""`write-scenes`: synthroad training scenes as pictures, for INT8 calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_ros.codec.image_codec import read_rgb
from dense_ood_train.cli import main as cli_main
from dense_ood_train.data.synthroad import generate_scene


def test_writes_the_training_scenes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "scenes"
    argv = [
        "write-scenes",
        str(out),
        "--count",
        "2",
        "--first",
        "7",
        "--height",
        "32",
        "--width",
        "64",
    ]
    assert cli_main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["scene_00007.png", "scene_00008.png"]
    np.testing.assert_array_equal(read_rgb(out / "scene_00008.png"), generate_scene(8, 32, 64)[0])
    assert cli_main(argv) == 2  # the folder is not empty now
    assert "pass --overwrite" in capsys.readouterr().err
