"""Negative sources for the outlier-exposure baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dense_ood_train.data.image_io import write_label, write_rgb
from dense_ood_train.data.negatives import (
    PROCEDURAL_KINDS,
    ImageFolderNegatives,
    NegativeSource,
    ProceduralNegatives,
)


@pytest.mark.parametrize("kind", PROCEDURAL_KINDS)
def test_procedural_kinds(kind):
    src = ProceduralNegatives((kind,))
    assert isinstance(src, NegativeSource)
    rng = np.random.default_rng(0)
    for h, w in ((16, 24), (40, 40), (7, 90)):
        rgb, alpha = src.sample(rng, h, w)
        assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
        assert alpha.shape == (h, w) and alpha.dtype == np.float32
        assert 0 < alpha.sum() <= h * w and alpha.min() >= 0 and alpha.max() <= 1
    big_rgb, big_alpha = src.sample(np.random.default_rng(1), 64, 64)
    assert big_rgb[big_alpha > 0].std() > 3  # textured, not flat


def test_procedural_is_deterministic_and_varied():
    src = ProceduralNegatives()
    a = src.sample(np.random.default_rng(5), 32, 32)
    b = src.sample(np.random.default_rng(5), 32, 32)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    rng = np.random.default_rng(6)
    alphas = [src.sample(rng, 32, 32)[1] for _ in range(6)]
    assert len({a.tobytes() for a in alphas}) == 6
    with pytest.raises(ValueError, match="unknown"):
        ProceduralNegatives(("tyre",))


def test_image_folder_crops(tmp_path: Path):
    image = np.zeros((40, 60, 3), np.uint8)
    image[..., 2] = 255  # blue everywhere: any crop stays blue
    write_rgb(tmp_path / "blue.png", image)
    src = ImageFolderNegatives(tmp_path)
    rgb, alpha = src.sample(np.random.default_rng(0), 20, 30)
    assert rgb.shape == (20, 30, 3) and np.all(alpha == 1)
    assert np.all(rgb[..., 2] == 255) and np.all(rgb[..., 0] == 0)
    with pytest.raises(FileNotFoundError):
        ImageFolderNegatives(tmp_path / "missing")


def test_image_folder_with_masks(tmp_path: Path):
    (tmp_path / "img").mkdir()
    (tmp_path / "mask").mkdir()
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:20, 30:50] = (255, 0, 0)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 30:50] = 255
    write_rgb(tmp_path / "img" / "obj.png", image)
    write_label(tmp_path / "mask" / "obj.png", mask)
    write_rgb(tmp_path / "img" / "nomask.png", image)  # skipped: no mask
    src = ImageFolderNegatives(tmp_path / "img", tmp_path / "mask")
    assert len(src) == 1
    rgb, alpha = src.sample(np.random.default_rng(0), 24, 24)
    assert 0.5 < alpha.mean() < 1.0  # the object fills most of its padded box
    assert np.all(rgb[alpha > 0][:, 0] > 200)  # object pixels are the red object
