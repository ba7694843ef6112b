"""Each benchmark reader on a tiny fixture written in the benchmark's published layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dense_ood_ros.metrics.frames import AnomalyLabelError
from dense_ood_train.benchmarks import BENCHMARK_NAMES, open_benchmark
from dense_ood_train.benchmarks.base import BenchmarkError
from dense_ood_train.data.image_io import write_label, write_rgb

H, W = 12, 16


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _raw_label(values: list[int]) -> np.ndarray:
    """A label whose rows cycle through `values` (each value appears)."""
    return np.array(values, np.uint8)[np.arange(H) % len(values)][:, None].repeat(W, 1)


def _expected(values: list[int], mapping: dict[int, int]) -> np.ndarray:
    return _raw_label([mapping[v] for v in values])


def test_every_named_benchmark_opens_or_names_what_is_missing(tmp_path: Path):
    """Each name is wired to a reader: on an empty folder it fails in one line (or, for the
    generated synthroad-ood, opens)."""
    for name in BENCHMARK_NAMES:
        if name == "synthroad-ood":
            assert len(open_benchmark(name, num_frames=2)) == 2
            continue
        with pytest.raises((BenchmarkError, OSError)) as caught:
            open_benchmark(name, tmp_path)[0]
        assert "\n" not in str(caught.value) and str(caught.value), name


def test_smiyc_anomaly_track(tmp_path: Path):
    track = tmp_path / "dataset_AnomalyTrack"
    (track / "images").mkdir(parents=True)
    (track / "labels_masks").mkdir()
    raw = [0, 1, 255, 2]
    for i in range(2):
        write_rgb(track / "images" / f"validation{i:04d}.jpg", _image(i))
        write_label(
            track / "labels_masks" / f"validation{i:04d}_labels_semantic.png", _raw_label(raw)
        )
    write_rgb(track / "images" / "test0000.jpg", _image(9))  # test frames: no labels
    bench = open_benchmark("smiyc-anomaly", tmp_path)
    assert bench.track == "anomaly" and len(bench) == 2
    frame = bench[0]
    assert frame.name == "validation0000" and frame.image.shape == (H, W, 3)
    assert np.array_equal(frame.anomaly, _expected(raw, {0: 0, 1: 1, 255: 255, 2: 255}))
    assert frame.semantic is None
    with_test = open_benchmark("smiyc-anomaly", track, include_unlabeled=True)
    by_name = {f.name: f for f in with_test}
    assert len(by_name) == 3 and by_name["test0000"].anomaly is None


def test_smiyc_obstacle_track_webp(tmp_path: Path):
    track = tmp_path / "dataset_ObstacleTrack"
    (track / "images").mkdir(parents=True)
    (track / "labels_masks").mkdir()
    image = _image(3)
    write_rgb(track / "images" / "validation_1.webp", image)
    write_label(
        track / "labels_masks" / "validation_1_labels_semantic.png", _raw_label([0, 1, 255])
    )
    bench = open_benchmark("smiyc-obstacle", tmp_path)
    assert bench.track == "obstacle" and len(bench) == 1
    frame = next(iter(bench))
    assert frame.name == "validation_1"
    assert np.abs(frame.image.astype(int) - image).max() <= 40  # lossy webp, same channel order
    assert set(np.unique(frame.anomaly).tolist()) == {0, 1, 255}


@pytest.mark.parametrize(
    ("name", "folder"), [("fishyscapes-laf", "LostAndFound"), ("fishyscapes-static", "Static")]
)
def test_fishyscapes(tmp_path: Path, name: str, folder: str):
    root = tmp_path / "fishyscapes" / folder
    (root / "original").mkdir(parents=True)
    (root / "labels").mkdir()
    raw = [0, 1, 255]
    image = _image(4)
    write_rgb(root / "original" / "0000_04_Maurener_Weg_8_000000_000030.png", image)
    write_label(root / "labels" / "0000_04_Maurener_Weg_8_000000_000030.png", _raw_label(raw))
    bench = open_benchmark(name, tmp_path / "fishyscapes")
    assert len(bench) == 1 and bench.track is None
    frame = bench[0]
    assert np.array_equal(frame.image, image)
    assert np.array_equal(frame.anomaly, _expected(raw, {0: 0, 1: 1, 255: 255}))
    (root / "labels" / "0000_04_Maurener_Weg_8_000000_000030.png").unlink()
    with pytest.raises(FileNotFoundError, match="no label"):
        open_benchmark(name, tmp_path / "fishyscapes")


def test_lostandfound(tmp_path: Path):
    scene = "01_Hanns_Klemm_Str_45"
    (tmp_path / "leftImg8bit" / "test" / scene).mkdir(parents=True)
    (tmp_path / "gtCoarse" / "test" / scene).mkdir(parents=True)
    raw = [0, 1, 2, 35, 250]
    for i, label in enumerate((_raw_label(raw), np.zeros((H, W), np.uint8))):
        fid = f"{scene}_000000_0000{i}0"
        write_rgb(tmp_path / "leftImg8bit" / "test" / scene / f"{fid}_leftImg8bit.png", _image(i))
        write_label(tmp_path / "gtCoarse" / "test" / scene / f"{fid}_gtCoarse_labelIds.png", label)
    bench = open_benchmark("lostandfound", tmp_path)
    assert len(bench) == 1  # the frame without labels is skipped
    assert bench.track == "obstacle"
    assert np.array_equal(bench[0].anomaly, _expected(raw, {0: 255, 1: 0, 2: 1, 35: 1, 250: 255}))
    assert len(open_benchmark("lostandfound", tmp_path, skip_unlabeled=False)) == 2
    with pytest.raises(FileNotFoundError):
        open_benchmark("lostandfound", tmp_path, split="train")


def test_streethazards(tmp_path: Path):
    images = tmp_path / "test" / "images" / "test" / "t5"
    annotations = tmp_path / "test" / "annotations" / "test" / "t5"
    images.mkdir(parents=True)
    annotations.mkdir(parents=True)
    raw = [1, 7, 13, 14]
    write_rgb(images / "300.png", _image(5))
    write_label(annotations / "300.png", _raw_label(raw))
    bench = open_benchmark("streethazards", tmp_path)
    assert len(bench) == 1 and bench[0].name == "test/t5/300"
    assert np.array_equal(bench[0].anomaly, _expected(raw, {1: 0, 7: 0, 13: 0, 14: 1}))


def test_cityscapes_val_semantic_only(tmp_path: Path):
    city = "frankfurt"
    (tmp_path / "leftImg8bit" / "val" / city).mkdir(parents=True)
    (tmp_path / "gtFine" / "val" / city).mkdir(parents=True)
    stem = f"{city}_000000_000294"
    write_rgb(tmp_path / "leftImg8bit" / "val" / city / f"{stem}_leftImg8bit.png", _image(6))
    write_label(
        tmp_path / "gtFine" / "val" / city / f"{stem}_gtFine_labelIds.png", _raw_label([7, 26, 0])
    )
    bench = open_benchmark("cityscapes-val", tmp_path)
    frame = bench[0]
    assert frame.name == stem and frame.anomaly is None
    assert np.array_equal(frame.semantic, _raw_label([0, 13, 255]))


def test_folder(tmp_path: Path):
    for sub in ("images", "labels", "semantic"):
        (tmp_path / sub).mkdir()
    write_rgb(tmp_path / "images" / "a.jpg", _image(7))
    write_label(tmp_path / "labels" / "a.png", _raw_label([0, 1, 255]))
    write_label(tmp_path / "semantic" / "a.png", _raw_label([0, 13]))
    bench = open_benchmark("folder", tmp_path, track="anomaly")
    frame = bench[0]
    assert bench.track == "anomaly" and frame.name == "a"
    assert np.array_equal(frame.semantic, _raw_label([0, 13]))
    write_label(tmp_path / "labels" / "a.png", _raw_label([0, 255, 128]))  # not 0/1/255
    with pytest.raises(AnomalyLabelError, match=r"1 \(anomaly\) or 255 \(void\); found \[128\]"):
        open_benchmark("folder", tmp_path)[0]


def test_open_benchmark_errors(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown benchmark"):
        open_benchmark("nope", tmp_path)
    with pytest.raises(ValueError, match="needs a root"):
        open_benchmark("smiyc-anomaly")
    with pytest.raises(ValueError, match="no option 'colour'"):
        open_benchmark("folder", tmp_path, colour=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_benchmark("fishyscapes-laf", tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        open_benchmark("smiyc-anomaly", tmp_path)  # exists, but not the layout
    with pytest.raises(ValueError, match="no root"):
        open_benchmark("synthroad-ood", tmp_path)
