"""CamVid in the SegNet layout, dataset class sets, camvid-pasted, and class names that reach
the exported model's metadata."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from dense_ood_ros.model.contract import KEY_LICENCE, read_contract, read_onnx_metadata
from dense_ood_train.benchmarks import open_benchmark
from dense_ood_train.cli import main as cli_main
from dense_ood_train.config import TrainConfigError, config_from_dict, dataset_classes
from dense_ood_train.data.camvid import CamVidDataset
from dense_ood_train.data.class_sets import CAMVID, ClassSet

H, W = 72, 96


def _frame(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A road-like frame: sky (0) on top, building (1) band, road (3) below, a void corner."""
    label = np.zeros((H, W), dtype=np.uint8)
    label[H // 4 : H // 2] = 1
    label[H // 2 :] = 3
    label[-6:, :6] = 11
    image = np.zeros((H, W, 3), dtype=np.uint8)
    for cid, colour in enumerate(CAMVID.palette):
        image[label == cid] = colour
    noise = rng.integers(-8, 9, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8), label


def write_camvid(root: Path, counts: dict[str, int], suffix: str = ".webp") -> Path:
    """A CamVid folder in the SegNet layout with `counts[split]` frames per split."""
    rng = np.random.default_rng(0)
    for split, count in counts.items():
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for i in range(count):
            image, label = _frame(rng)
            stem = f"0001TP_{split}_{i:03d}"
            params = [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else []
            cv2.imwrite(str(root / split / f"{stem}{suffix}"), image[..., ::-1], params)
            cv2.imwrite(str(root / f"{split}annot" / f"{stem}.png"), label)
    return root


def test_camvid_reads_webp_and_png_by_stem_and_voids_id_11(tmp_path: Path) -> None:
    webp = write_camvid(tmp_path / "webp", {"train": 3, "val": 2})
    png = write_camvid(tmp_path / "png", {"train": 3}, suffix=".png")
    train = CamVidDataset(webp, "train")
    assert len(train) == 3 and len(CamVidDataset(webp, "val")) == 2
    image, label = train[0]
    assert image.shape == (H, W, 3) and label.shape == (H, W)
    assert set(np.unique(label)) == {0, 1, 3, 255}  # id 11 became ignore
    assert (label[-6:, :6] == 255).all()
    # the lossless WebP and the PNG copy decode to the same pixels
    assert np.array_equal(CamVidDataset(png, "train")[0][0], image)


def test_camvid_errors_name_the_folder(tmp_path: Path) -> None:
    root = write_camvid(tmp_path / "cv", {"train": 1})
    with pytest.raises(FileNotFoundError, match="valannot"):
        (root / "val").mkdir()
        CamVidDataset(root, "val")
    (root / "trainannot" / "0001TP_train_000.png").unlink()
    with pytest.raises(FileNotFoundError, match="no label"):
        CamVidDataset(root, "train")


def _config(**data: object) -> dict:
    return {"data": data, "model": {"num_classes": 11}}


def test_config_class_sets() -> None:
    camvid = config_from_dict(_config(dataset="camvid", root="x"))
    assert dataset_classes(camvid) == CAMVID
    with pytest.raises(TrainConfigError, match=r"data\.root is required"):
        config_from_dict(_config(dataset="camvid"))
    with pytest.raises(TrainConfigError, match="has 11 classes, got 19"):
        config_from_dict({"data": {"dataset": "camvid", "root": "x"}})
    with pytest.raises(TrainConfigError, match="has its own classes"):
        config_from_dict(_config(dataset="camvid", root="x", class_names=["a"] * 11))
    names = [f"c{i}" for i in range(11)]
    palette = [[i, 2 * i, 3 * i] for i in range(11)]
    folder = config_from_dict(
        _config(
            dataset="folder", images_dir="i", labels_dir="l", class_names=names, palette=palette
        )
    )
    assert dataset_classes(folder) == ClassSet(tuple(names), tuple(tuple(c) for c in palette))
    undeclared = config_from_dict(_config(dataset="folder", images_dir="i", labels_dir="l"))
    assert dataset_classes(undeclared).names[3] == "class_3"
    with pytest.raises(TrainConfigError, match=r"10 names for model\.num_classes 11"):
        config_from_dict(
            _config(dataset="folder", images_dir="i", labels_dir="l", class_names=names[:10])
        )
    with pytest.raises(TrainConfigError, match=r"0\.\.255"):
        bad = [[0, 0, 300]] * 11
        config_from_dict(_config(dataset="folder", images_dir="i", labels_dir="l", palette=bad))


def test_camvid_pasted_frames(tmp_path: Path) -> None:
    root = write_camvid(tmp_path / "cv", {"val": 4})
    everything = open_benchmark("camvid-pasted", root, variants=2)
    select = open_benchmark("camvid-pasted", root, part="select")
    report = open_benchmark("camvid-pasted", root, part="report")
    assert len(everything) == 8 and len(select) == 2 and len(report) == 2
    assert {f.name for f in select}.isdisjoint({f.name for f in report})
    frame = everything[0]
    assert frame.anomaly is not None and frame.semantic is not None
    objects = frame.anomaly == 1
    assert objects.any()  # something was pasted, on what was ground
    assert (frame.semantic[objects] == 255).all()
    assert (frame.anomaly[-6:, :6] == 255).all()  # CamVid void is not scored
    assert set(np.unique(frame.anomaly)) <= {0, 1, 255}
    again = everything[0]
    assert np.array_equal(again.image, frame.image)  # deterministic
    assert not np.array_equal(everything[1].anomaly, frame.anomaly)  # another variant


TINY_CAMVID = {
    "seed": 0,
    "data": {
        "dataset": "camvid",
        "crop_hw": [32, 64],
        "batch_size": 2,
        "val_batch_size": 2,
    },
    "model": {"backbone": "mobilenetv3_small_050", "decoder_width": 16, "num_classes": 11},
    "negatives": {"mode": "real", "patch_min": 8, "patch_max": 16, "reference_height": 32},
    "optim": {"lr": 3e-3, "steps": 4, "warmup_steps": 1},
    "log": {"every": 1, "checkpoint_every": 0},
    "runtime": {"threads": 1},
}


def test_camvid_names_and_colours_reach_the_exported_model(tmp_path: Path) -> None:
    root = write_camvid(tmp_path / "cv", {"train": 2, "val": 1})
    config = {**TINY_CAMVID, "data": {**TINY_CAMVID["data"], "root": str(root)}}
    config_path = tmp_path / "camvid.yaml"
    config_path.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    argv = ["fit", "--config", str(config_path), "--output", str(run), "--no-progress"]
    assert cli_main(argv) == 0
    model = tmp_path / "camvid.onnx"
    assert cli_main(["export", str(run / "last.pt"), "--output", str(model)]) == 0
    contract = read_contract(model)
    assert contract.class_names == CAMVID.names
    assert contract.palette.tolist() == [list(c) for c in CAMVID.palette]
    assert contract.input_hw == (32, 64)
    licence = read_onnx_metadata(model)[KEY_LICENCE]
    assert "CC BY-NC 4.0" in licence and "non-commercial" in licence
