"""Real object cut-outs: the coco negatives source and the camvid-coco benchmark, on generated
RGBA fixtures in the layout of ../shared/data/coco_objects."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_data_camvid import write_camvid

from dense_ood_train.benchmarks import open_benchmark
from dense_ood_train.benchmarks.camvid_coco import paste_cutouts
from dense_ood_train.data.cutouts import CocoNegatives, CutOutFolder
from dense_ood_train.data.image_io import DatasetError
from dense_ood_train.method.synthesis import paste_patches, real_negative_patches


def write_cutouts(folder: Path, count: int = 3, source_split: str | None = "train2017") -> Path:
    """`count` RGBA WebP objects (an opaque ellipse of one colour, 40x24) and objects.json."""
    folder.mkdir(parents=True)
    entries = []
    for i in range(count):
        pixels = np.zeros((40, 24, 4), np.uint8)
        cv2.ellipse(pixels, (12, 20), (11, 19), 0, 0, 360, (40 * i, 200, 90, 255), -1)
        name = f"obj_{i}.webp"
        cv2.imwrite(str(folder / name), pixels, [cv2.IMWRITE_WEBP_QUALITY, 101])
        entries.append({"file": name, "class": "suitcase", "source_split": source_split})
    if source_split is not None:
        (folder / "objects.json").write_text(json.dumps(entries))
    return folder


def test_coco_negatives_keep_the_mask_shape_and_aspect(tmp_path: Path) -> None:
    source = CocoNegatives(write_cutouts(tmp_path / "train"))
    rng = np.random.default_rng(0)
    rgb, alpha = source.sample(rng, 32, 64)
    assert rgb.shape == (32, 64, 3) and alpha.shape == (32, 64)
    inside = alpha > 0.5
    rows, cols = np.nonzero(inside)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert height >= 30  # as tall as the box allows
    assert 0.45 < width / height < 0.75  # the ellipse's 24:40, not stretched to the box
    assert (alpha == 0).any()  # around the object: no negative
    assert ((alpha > 0) & (alpha < 1)).any()  # a soft edge is kept
    # pasted through the training path: the object's pixels are negatives, its edge ignored
    patches, alphas = real_negative_patches(source, rng, 2, (32, 64))
    images, labels = torch.zeros(2, 3, 40, 80), torch.zeros(2, 40, 80, dtype=torch.int64)
    pasted = paste_patches(images, labels, patches, [(0, 0, 32, 64)] * 2, alphas)
    negatives = pasted.negatives[0, :32, :64].numpy()
    assert negatives.any() and not negatives.all()
    assert (pasted.labels[0][pasted.negatives[0]] == 255).all()


def test_cutout_folders_refuse_the_other_sides_objects(tmp_path: Path) -> None:
    val = write_cutouts(tmp_path / "val", source_split="val2017")
    with pytest.raises(DatasetError, match="val2017"):
        CocoNegatives(val)  # validation objects never reach training
    train = write_cutouts(tmp_path / "train", source_split="train2017")
    root = write_camvid(tmp_path / "cv", {"val": 2})
    with pytest.raises(DatasetError, match="train2017"):
        open_benchmark("camvid-coco", root, objects_root=str(train))
    with pytest.raises(DatasetError, match="does not exist"):
        CutOutFolder(tmp_path / "missing")
    rgb_only = tmp_path / "rgb"
    rgb_only.mkdir()
    cv2.imwrite(str(rgb_only / "x.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DatasetError, match="expected 8-bit RGBA"):
        CutOutFolder(rgb_only)[0]


def test_camvid_coco_frames(tmp_path: Path) -> None:
    root = write_camvid(tmp_path / "cv", {"val": 4})
    objects = write_cutouts(tmp_path / "val", source_split="val2017")
    options = {"objects_root": str(objects), "height_m": [0.8, 1.2]}
    everything = open_benchmark("camvid-coco", root, variants=2, **options)
    select = open_benchmark("camvid-coco", root, part="select", **options)
    report = open_benchmark("camvid-coco", root, part="report", **options)
    assert everything.name == "camvid-coco-val" and select.name == "camvid-coco-val-select"
    assert len(everything) == 8 and len(select) == 2 and len(report) == 2
    assert {f.name for f in select}.isdisjoint({f.name for f in report})
    frame = everything[0]
    assert frame.anomaly is not None and frame.semantic is not None
    objects_mask = frame.anomaly == 1
    assert objects_mask.any()
    assert set(np.unique(frame.anomaly)) <= {0, 1, 255}
    assert (frame.semantic[objects_mask] == 255).all()
    assert (frame.anomaly[-6:, :6] == 255).all()  # CamVid void is not scored
    rows = np.nonzero(objects_mask.any(axis=1))[0]
    assert rows.max() >= 72 // 2  # objects stand on the road (the lower half of the fixture)
    assert np.array_equal(everything[0].image, frame.image)  # deterministic
    assert not np.array_equal(everything[1].anomaly, frame.anomaly)  # another variant


def test_camvid_coco_marks_the_soft_edge_void_and_keeps_it_in_the_image(tmp_path: Path) -> None:
    semantic = np.full((120, 160), 3, np.uint8)  # all road
    semantic[:40] = 0  # sky
    image = np.full((120, 160, 3), 100, np.uint8)
    folder = tmp_path / "disc"
    folder.mkdir()
    pixels = np.zeros((64, 64, 4), np.uint8)
    cv2.circle(pixels, (32, 32), 31, (250, 250, 250, 255), -1)
    cv2.imwrite(str(folder / "disc.png"), pixels)
    cutouts = CutOutFolder(folder)
    rgb, anomaly, out_semantic = paste_cutouts(image, semantic, 7, cutouts, (1, 1), (1.0, 1.0))
    edge = anomaly == 255
    assert (anomaly == 1).any() and edge.any()
    assert (out_semantic[(anomaly == 1) | edge] == 255).all()
    # the edge pixels mix the object with the road: neither the road's colour nor the object's
    changed = np.abs(rgb.astype(int) - image.astype(int)).sum(axis=2) > 0
    assert changed[edge].mean() > 0.5
