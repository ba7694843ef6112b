"""Cityscapes-format and folder datasets read fixtures written in their real layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dense_ood_train.data.cityscapes import CityscapesDataset
from dense_ood_train.data.folder import FolderDataset
from dense_ood_train.data.image_io import read_label, read_rgb, write_label, write_rgb
from dense_ood_train.data.labels import (
    CITYSCAPES_CLASS_NAMES,
    CITYSCAPES_PALETTE,
    IGNORE_INDEX,
    LABEL_ID_TO_TRAIN_ID,
    label_ids_to_train_ids,
)
from dense_ood_train.data.transforms import TrainTransform


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_label_table_matches_cityscapes():
    assert len(CITYSCAPES_CLASS_NAMES) == 19
    assert CITYSCAPES_CLASS_NAMES[0] == "road" and CITYSCAPES_CLASS_NAMES[13] == "car"
    assert CITYSCAPES_PALETTE.shape == (19, 3) and CITYSCAPES_PALETTE.dtype == np.uint8
    assert tuple(CITYSCAPES_PALETTE[0]) == (128, 64, 128)
    # labelIds: 7 road -> 0, 26 car -> 13, 0 unlabeled -> 255, 33 bicycle -> 18, 34+ -> 255
    ids = np.array([[7, 26, 0, 33, 34, 1]], np.uint8)
    assert label_ids_to_train_ids(ids).tolist() == [[0, 13, 255, 18, 255, 255]]
    assert (LABEL_ID_TO_TRAIN_ID != IGNORE_INDEX).sum() == 19


def test_rgb_round_trip_keeps_channel_order(tmp_path: Path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # pure red
    write_rgb(tmp_path / "red.png", rgb)
    assert read_rgb(tmp_path / "red.png")[0, 0].tolist() == [200, 0, 0]
    with pytest.raises(OSError, match="cannot read"):
        read_rgb(tmp_path / "nope.png")
    write_rgb(tmp_path / "rgb3.png", rgb)
    with pytest.raises(OSError, match="channels"):
        read_label(tmp_path / "rgb3.png")


def _write_cityscapes(root: Path, split: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Two cities, three frames; one frame has only labelIds, the others labelTrainIds."""
    frames = {}
    for city, n in (("aachen", 2), ("bochum", 1)):
        (root / "leftImg8bit" / split / city).mkdir(parents=True)
        (root / "gtFine" / split / city).mkdir(parents=True)
        for i in range(n):
            stem = f"{city}_{i:06d}_000019"
            image = rng.integers(0, 256, (16, 32, 3), dtype=np.uint8)
            label_ids = rng.choice(np.array([0, 7, 8, 11, 26, 33], np.uint8), (16, 32))
            write_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", image)
            gt = root / "gtFine" / split / city
            write_label(gt / f"{stem}_gtFine_labelIds.png", label_ids)
            write_rgb(gt / f"{stem}_gtFine_color.png", image)  # present in the real layout too
            if city == "aachen":
                write_label(
                    gt / f"{stem}_gtFine_labelTrainIds.png", LABEL_ID_TO_TRAIN_ID[label_ids]
                )
            frames[stem] = (image, LABEL_ID_TO_TRAIN_ID[label_ids])
    return frames


def test_cityscapes_reads_both_label_kinds(tmp_path: Path, rng):
    frames = _write_cityscapes(tmp_path, "val", rng)
    ds = CityscapesDataset(tmp_path, "val")
    assert len(ds) == 3
    assert [ds.name(i) for i in range(3)] == sorted(frames)
    for i in range(3):
        image, label = ds[i]
        ref_image, ref_label = frames[ds.name(i)]
        assert np.array_equal(image, ref_image)
        assert np.array_equal(label, ref_label)
    assert set(np.unique(ds[2][1]).tolist()) <= {0, 1, 2, 13, 18, 255}  # bochum: mapped labelIds


def test_cityscapes_with_transform_and_errors(tmp_path: Path, rng):
    _write_cityscapes(tmp_path, "train", rng)
    ds = CityscapesDataset(tmp_path, "train", transform=TrainTransform((8, 8), jitter=None))
    image, label = ds[0]
    assert image.shape == (8, 8, 3) and label.shape == (8, 8)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CityscapesDataset(tmp_path, "test")
    (tmp_path / "gtFine/train/bochum/bochum_000000_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(FileNotFoundError, match="no gtFine label"):
        CityscapesDataset(tmp_path, "train")


def test_folder_dataset_matches_stems(tmp_path: Path, rng):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    refs = {}
    for stem in ("b", "a", "c"):
        image = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
        label = rng.integers(0, 3, (10, 12), dtype=np.uint8)
        write_rgb(tmp_path / "images" / f"{stem}.png", image)
        write_label(tmp_path / "labels" / f"{stem}.png", label)
        refs[stem] = (image, label)
    write_label(tmp_path / "labels" / "orphan.png", np.zeros((3, 3), np.uint8))
    ds = FolderDataset(tmp_path / "images", tmp_path / "labels")
    assert len(ds) == 3 and [ds.name(i) for i in range(3)] == ["a", "b", "c"]
    for i, stem in enumerate("abc"):
        image, label = ds[i]
        assert np.array_equal(image, refs[stem][0]) and np.array_equal(label, refs[stem][1])
    lut = np.full(256, 255, np.uint8)
    lut[:3] = [5, 6, 7]
    assert set(
        np.unique(FolderDataset(tmp_path / "images", tmp_path / "labels", label_map=lut)[0][1])
    ) <= {5, 6, 7}


def test_folder_dataset_jpeg_images_and_missing_labels(tmp_path: Path, rng):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    write_rgb(tmp_path / "images" / "x.jpg", np.full((8, 8, 3), (250, 10, 10), np.uint8))
    write_label(tmp_path / "labels" / "x.png", np.ones((8, 8), np.uint8))
    image, _ = FolderDataset(tmp_path / "images", tmp_path / "labels")[0]
    assert image[4, 4, 0] > 200 and image[4, 4, 2] < 50  # still red after JPEG: RGB order kept
    write_rgb(tmp_path / "images" / "y.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="no label"):
        FolderDataset(tmp_path / "images", tmp_path / "labels")
