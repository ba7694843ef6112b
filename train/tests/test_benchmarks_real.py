"""camvid-ood and roadanomaly readers on tiny fixtures in their published layouts, and
`dense-ood-train evaluate` on camvid-ood with an 11-class contract model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dense_ood_train.benchmarks import open_benchmark
from dense_ood_train.benchmarks.base import BenchmarkError
from dense_ood_train.data.class_sets import CAMVID
from dense_ood_train.data.image_io import write_label, write_rgb

CAMVID_HW = (36, 48)  # 360x480 frames, scaled down
ROAD_HW = (72, 128)  # 720x1280 frames, scaled down
CAMVID_CLASSES = CAMVID.names


def _image(seed: int, hw: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)


def _camvid_label() -> np.ndarray:
    """Road (3) with sky (0) on top, an anomaly block (12), void (11), a car pixel (8), a
    bicyclist pixel (10) and a stray 200."""
    label = np.full(CAMVID_HW, 3, np.uint8)
    label[:5] = 0
    label[10:20, 10:20] = 12
    label[25:30, 30:40] = 11
    label[0, 47] = 8
    label[35, 0] = 10
    label[35, 47] = 200
    return label


def _camvid(root: Path, stems: list[str], listing: bool, suffix: str = ".png") -> Path:
    (root / "test_ood").mkdir(parents=True)
    (root / "testannot_ood").mkdir()
    for i, stem in enumerate(stems):
        write_rgb(root / "test_ood" / f"{stem}{suffix}", _image(i, CAMVID_HW))
        write_label(root / "testannot_ood" / f"{stem}.png", _camvid_label())
    if listing:
        lines = [
            f"/SegNet/CamVid/test_ood/{s}.png /SegNet/CamVid/testannot_ood/{s}.png" for s in stems
        ]
        (root / "test_ood.txt").write_text("\n".join(lines) + "\n")
    return root


def _road(root: Path, names: list[str]) -> Path:
    (root / "frames").mkdir(parents=True)
    label = np.zeros(ROAD_HW, np.uint8)
    label[20:40, 50:90] = 2
    label[0, 0] = 1
    label[71, 127] = 255
    for i, name in enumerate(names):
        write_rgb(root / "frames" / name, _image(i, ROAD_HW))
        (root / "frames" / f"{Path(name).stem}.labels").mkdir()
        write_label(root / "frames" / f"{Path(name).stem}.labels" / "labels_semantic.png", label)
    (root / "frame_list.json").write_text(json.dumps(names))
    return root


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


# --- camvid-ood ------------------------------------------------------------------------------


def test_camvid_ood_with_listing(tmp_path: Path) -> None:
    stems = ["0001TP_008550", "Seq05VD_f02370"]
    _camvid(tmp_path, stems, listing=True)
    write_rgb(tmp_path / "test_ood" / "unlisted.png", _image(9, CAMVID_HW))  # not in the list
    bench = open_benchmark("camvid-ood", tmp_path)
    assert bench.name == "camvid-ood" and bench.track is None
    assert [f.name for f in bench] == stems
    frame = bench[1]
    assert frame.image.shape == (*CAMVID_HW, 3)
    anomaly, semantic = frame.anomaly, frame.semantic
    assert anomaly is not None and semantic is not None
    assert anomaly[0, 0] == 0 and anomaly[6, 6] == 0 and anomaly[0, 47] == 0  # classes 0, 3, 8
    assert anomaly[35, 0] == 0  # class 10
    assert anomaly[15, 15] == 1  # 12: anomaly
    assert anomaly[27, 35] == 255 and anomaly[35, 47] == 255  # 11 void, 200 unknown
    assert semantic[0, 0] == 0 and semantic[6, 6] == 3 and semantic[0, 47] == 8
    assert semantic[35, 0] == 10
    assert semantic[15, 15] == 255 and semantic[27, 35] == 255 and semantic[35, 47] == 255
    assert set(np.unique(semantic).tolist()) == {0, 3, 8, 10, 255}


def test_camvid_ood_by_stem_without_listing(tmp_path: Path) -> None:
    _camvid(tmp_path, ["b", "a"], listing=False, suffix=".jpg")
    bench = open_benchmark("camvid-ood", tmp_path)
    assert [f.name for f in bench] == ["a", "b"]
    assert bench[0].anomaly is not None and int(bench[0].anomaly[15, 15]) == 1


def test_camvid_ood_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        open_benchmark("camvid-ood", tmp_path)
    assert "test_ood" in _one_line(caught) and "does not exist" in str(caught.value)

    _camvid(tmp_path, ["a", "b"], listing=True)
    (tmp_path / "testannot_ood" / "b.png").unlink()
    with pytest.raises(FileNotFoundError) as caught:
        open_benchmark("camvid-ood", tmp_path)
    assert "no label testannot_ood/b.png for b.png" in _one_line(caught)

    (tmp_path / "test_ood.txt").write_text("test_ood/a.png testannot_ood/a.png\nc.png c.png\n")
    with pytest.raises(FileNotFoundError) as caught:
        open_benchmark("camvid-ood", tmp_path)
    assert "test_ood.txt lists c" in _one_line(caught)

    (tmp_path / "test_ood.txt").write_text("test_ood/a.png\n")
    with pytest.raises(BenchmarkError) as caught:
        open_benchmark("camvid-ood", tmp_path)
    assert "line 1" in _one_line(caught)

    (tmp_path / "test_ood.txt").write_text("test_ood/a.png testannot_ood/a.png\n")
    write_label(tmp_path / "testannot_ood" / "a.png", np.zeros((10, 10), np.uint8))
    bench = open_benchmark("camvid-ood", tmp_path)
    with pytest.raises(OSError) as caught:
        bench[0]
    assert "label size (10, 10) != image size (36, 48)" in _one_line(caught)


# --- roadanomaly -----------------------------------------------------------------------------


def test_roadanomaly(tmp_path: Path) -> None:
    names = ["animals01_Guiness.jpg", "vehicle03_tractor.jpg"]
    _road(tmp_path / "RoadAnomaly_jpg", names)
    for root in (tmp_path / "RoadAnomaly_jpg", tmp_path):  # the folder or its parent
        bench = open_benchmark("roadanomaly", root)
        assert bench.track == "anomaly" and len(bench) == 2
        assert [f.name for f in bench] == ["animals01_Guiness", "vehicle03_tractor"]
    frame = bench[0]
    assert frame.image.shape == (*ROAD_HW, 3) and frame.semantic is None
    anomaly = frame.anomaly
    assert anomaly is not None and anomaly.shape == ROAD_HW
    assert anomaly[5, 5] == 0 and anomaly[30, 70] == 1  # 0 inlier, 2 anomaly
    assert anomaly[0, 0] == 255 and anomaly[71, 127] == 255  # 1 and 255: void


def test_roadanomaly_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        open_benchmark("roadanomaly", tmp_path)
    assert "no frame_list.json" in _one_line(caught)

    _road(tmp_path, ["a.jpg", "b.jpg"])
    (tmp_path / "frames" / "b.labels" / "labels_semantic.png").unlink()
    with pytest.raises(FileNotFoundError) as caught:
        open_benchmark("roadanomaly", tmp_path)
    assert "no label frames/b.labels/labels_semantic.png for b.jpg" in _one_line(caught)

    (tmp_path / "frame_list.json").write_text(json.dumps(["a.jpg", "missing.jpg"]))
    with pytest.raises(FileNotFoundError) as caught:
        open_benchmark("roadanomaly", tmp_path)
    assert "lists missing.jpg but frames/missing.jpg is missing" in _one_line(caught)

    (tmp_path / "frame_list.json").write_text('{"a": 1}')
    with pytest.raises(BenchmarkError) as caught:
        open_benchmark("roadanomaly", tmp_path)
    assert "JSON list" in _one_line(caught)

    (tmp_path / "frame_list.json").write_text(json.dumps(["a.jpg"]))
    write_label(
        tmp_path / "frames" / "a.labels" / "labels_semantic.png", np.zeros((7, 9), np.uint8)
    )
    with pytest.raises(OSError) as caught:
        open_benchmark("roadanomaly", tmp_path)[0]
    assert "label size (7, 9) != image size (72, 128)" in _one_line(caught)


# --- evaluate end to end ---------------------------------------------------------------------


def test_evaluate_camvid_ood_with_an_11_class_model(tmp_path: Path) -> None:
    """A tiny 11-class contract model (input 32x64, resized back to the 36x48 frames): the
    anomaly pixels are the positives, void is skipped, the mIoU is over the CamVid classes."""
    torch = pytest.importorskip("torch")
    from dense_ood_train.cli import main as cli_main
    from dense_ood_train.export.onnx_export import export_contract_model, make_contract

    torch.manual_seed(0)
    segmenter = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 11, 1)
    )
    palette = np.random.default_rng(0).integers(0, 256, (11, 3))
    contract = make_contract(CAMVID_CLASSES, palette, (32, 64), score="jsd")
    model = export_contract_model(segmenter, tmp_path / "camvid11.onnx", contract)
    root = _camvid(tmp_path / "CamVid_OOD", ["a", "b"], listing=True)
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(model), "--benchmark", "camvid-ood", "--root", str(root)]
    assert cli_main([*args, "--output", str(out), "--samples", "0"]) == 0

    report = json.loads((out / "metrics.json").read_text())
    assert report["frames"] == report["anomaly_frames"] == 2
    assert report["component_track"] is None
    label = _camvid_label()
    jsd = report["scores"]["jsd"]
    assert jsd["num_positive"] == 2 * int((label == 12).sum())
    assert jsd["num_negative"] == 2 * int((label <= 10).sum())
    assert list(report["class_iou"]) == list(CAMVID_CLASSES)
    assert 0.0 <= report["miou"] <= 1.0 and report["gt_classes"] == 4  # sky, road, car, bicyclist

    # a model of 11 other classes is scored for anomalies, but gets no meaningless mIoU
    other = make_contract([f"c{i}" for i in range(11)], palette, (32, 64), score="jsd")
    other_model = export_contract_model(segmenter, tmp_path / "other11.onnx", other)
    args[2] = str(other_model)
    assert cli_main([*args, "--output", str(tmp_path / "other"), "--samples", "0"]) == 0
    report = json.loads((tmp_path / "other" / "metrics.json").read_text())
    assert report["miou"] is None and "other classes" in report["miou_note"]
    assert report["scores"]["jsd"]["num_positive"] == 2 * int((label == 12).sum())
