"""Road Anomaly (Lis, Nakka, Fua, Salzmann, "Detecting the Unexpected via Image Resynthesis",
ICCV 2019; the dataset's readme.md), 60 road scenes with unusual objects, 1280x720:

    <root>/frame_list.json                             JSON list of frame file names
    <root>/frames/<name>.jpg                           e.g. animals01_Guiness.jpg
    <root>/frames/<name>.labels/labels_semantic.png    <name> without its suffix

(`root` may also be the folder holding RoadAnomaly/ or RoadAnomaly_jpg/. A listed frame that
is missing is also looked for with .webp/.png, for the later WebP release.) Labels, per the
readme: 0 = background (inlier), 2 = anomaly; any other value is treated as void (255).
No semantic labels. Frames are scored at their own size; component metrics use the SMIYC
anomaly track (Road Anomaly is the predecessor of SMIYC's RoadAnomaly21).
"""

from __future__ import annotations

import json
from pathlib import Path

from dense_ood_train.benchmarks.base import (
    BenchmarkError,
    FileBenchmark,
    FileItem,
    lut_map,
    require_dir,
)

FRAME_LIST = "frame_list.json"
LABEL_FILE = "labels_semantic.png"
FOLDERS = ("RoadAnomaly_jpg", "RoadAnomaly")
IMAGE_SUFFIXES = (".jpg", ".webp", ".png")


def _frame_names(listing: Path) -> list[str]:
    """The frame file names in frame_list.json."""
    try:
        names = json.loads(listing.read_text())
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"Road Anomaly: {listing.name} is not valid JSON ({exc})") from exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BenchmarkError(f"Road Anomaly: {listing.name} must be a JSON list of file names")
    return names


def _find_frame(frames: Path, name: str) -> Path:
    if (frames / name).is_file():
        return frames / name
    stem = Path(name).stem
    for suffix in IMAGE_SUFFIXES:
        if (frames / f"{stem}{suffix}").is_file():
            return frames / f"{stem}{suffix}"
    raise FileNotFoundError(f"Road Anomaly: {FRAME_LIST} lists {name} but frames/{name} is missing")


def open_roadanomaly(root: str | Path) -> FileBenchmark:
    root = Path(root)
    for folder in FOLDERS:
        if not (root / FRAME_LIST).is_file() and (root / folder / FRAME_LIST).is_file():
            root = root / folder
    listing = root / FRAME_LIST
    if not listing.is_file():
        raise FileNotFoundError(f"Road Anomaly: no {FRAME_LIST} in {root}")
    frames = require_dir(root / "frames", "Road Anomaly")
    items = []
    for name in _frame_names(listing):
        image = _find_frame(frames, name)
        label = frames / f"{Path(name).stem}.labels" / LABEL_FILE
        if not label.is_file():
            raise FileNotFoundError(
                f"Road Anomaly: no label frames/{label.parent.name}/{LABEL_FILE} for {name}"
            )
        items.append(FileItem(Path(name).stem, image, anomaly=label))
    return FileBenchmark("roadanomaly", items, anomaly_map=lut_map({0: 0, 2: 1}), track="anomaly")
