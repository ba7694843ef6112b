"""synthroad-ood: deterministic anomaly frames with held-out seeds, kinds and sizes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dense_ood_train.benchmarks import open_benchmark
from dense_ood_train.benchmarks.anomaly_objects import ANOMALY_KINDS
from dense_ood_train.benchmarks.synthroad_ood import (
    SPLIT_SEED_BASE,
    TRAINING_SEED_RANGE,
    SynthRoadOOD,
    generate_ood_frame,
    scene_seed,
    write_folder,
)
from dense_ood_train.data.labels import IGNORE_INDEX
from dense_ood_train.data.negatives import PROCEDURAL_KINDS
from dense_ood_train.data.synthroad import generate_scene


@pytest.fixture(scope="module")
def frames():
    return list(open_benchmark("synthroad-ood", num_frames=16, height=96, width=192))


def test_frames_are_deterministic_and_well_formed(frames):
    again = SynthRoadOOD("test", 2, 96, 192)[1]
    assert np.array_equal(again.image, frames[1].image)
    assert np.array_equal(again.anomaly, frames[1].anomaly)
    for f in frames:
        assert f.image.shape == (96, 192, 3) and f.image.dtype == np.uint8
        assert f.anomaly.shape == (96, 192) and f.anomaly.dtype == np.uint8
        assert set(np.unique(f.anomaly).tolist()) <= {0, 1, 255}
        assert np.all(f.semantic[f.anomaly == 1] == IGNORE_INDEX)  # no class under objects
        assert np.all(f.anomaly[f.semantic == IGNORE_INDEX] != 0)  # void scene parts not inliers
    assert sum((f.anomaly == 1).any() for f in frames) >= 15  # (nearly) every frame has objects


def test_objects_vary_in_size_including_small_distant_ones(frames):
    sizes = []
    for f in frames:
        _, comps = cv2.connectedComponents((f.anomaly == 1).astype(np.uint8), connectivity=8)
        sizes += np.bincount(comps.ravel())[1:].tolist()
    assert min(sizes) < 30 and max(sizes) > 200, sizes


def test_only_the_objects_change_the_scene():
    """Away from the objects (and their shadows, blurred edges), the frame is the synthroad
    scene of the same seed, pixel for pixel: the benchmark reuses generate_scene's scenes."""
    seed = scene_seed("test", 3)
    rgb, anomaly, _ = generate_ood_frame(seed, 96, 192)
    plain, _ = generate_scene(seed, 96, 192)
    near = cv2.dilate((anomaly == 1).astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
    assert (anomaly == 1).any()
    same = np.all(rgb == plain, axis=2)
    assert same[~near].mean() > 0.97
    assert not same[anomaly == 1].all()


def test_seeds_are_disjoint_from_training_and_between_splits():
    assert all(base >= TRAINING_SEED_RANGE[1] for base in SPLIT_SEED_BASE.values())
    assert abs(SPLIT_SEED_BASE["test"] - SPLIT_SEED_BASE["val"]) >= 10**8
    assert scene_seed("val", 0) != scene_seed("test", 0)
    val = SynthRoadOOD("val", 1, 64, 128)[0]
    test = SynthRoadOOD("test", 1, 64, 128)[0]
    assert not np.array_equal(val.image, test.image)
    with pytest.raises(ValueError, match="split"):
        SynthRoadOOD("train")


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_every_kind_is_drawn(kind):
    drawn = 0
    for i in range(3):
        _, anomaly, _ = generate_ood_frame(scene_seed("val", 100 + i), 96, 192, kinds=(kind,))
        drawn += int((anomaly == 1).sum())
    assert drawn > 0


def test_anomaly_kinds_differ_from_training_negatives():
    assert not set(ANOMALY_KINDS) & set(PROCEDURAL_KINDS)
    with pytest.raises(ValueError, match="unknown anomaly kinds"):
        SynthRoadOOD(kinds=("blob",))


def test_write_folder_round_trip(tmp_path: Path, frames):
    bench = SynthRoadOOD("test", 3, 96, 192)
    out = write_folder(bench, tmp_path / "ood")
    again = open_benchmark("folder", out)
    assert len(again) == 3
    for a, b in zip(again, frames[:3], strict=True):
        assert a.name == b.name
        assert np.array_equal(a.image, b.image)  # PNG: lossless, RGB order kept
        assert np.array_equal(a.anomaly, b.anomaly)
        assert np.array_equal(a.semantic, b.semantic)
    with pytest.raises(FileExistsError):
        write_folder(bench, out)
    write_folder(bench, out, overwrite=True)
