"""SegmentMeIfYouCan (SMIYC): RoadAnomaly21 (anomaly track) and RoadObstacle21 (obstacle track).

Layout as distributed (segmentmeifyoucan.com; the benchmark code adynathos/road-anomaly-benchmark,
datasets/tracks.py, DatasetAnomalyTrack / DatasetObstacleTrack):

    dataset_AnomalyTrack/images/<fid>.jpg
    dataset_AnomalyTrack/labels_masks/<fid>_labels_semantic.png      (validation frames only)
    dataset_ObstacleTrack/images/<fid>.webp
    dataset_ObstacleTrack/labels_masks/<fid>_labels_semantic.png

Labels, as in that code: 0 = usual (inlier; on the obstacle track: road), 1 = anomaly/obstacle,
everything else (255) = void. On the obstacle track everything off the road is void. Labels
are public for the validation frames only; test frames have none and are skipped unless
`include_unlabeled=True` (then their `anomaly` is None). `root` may be the track folder itself
or the folder that contains it.
"""

from __future__ import annotations

from pathlib import Path

from dense_ood_train.benchmarks.base import FileBenchmark, FileItem, lut_map, require_dir
from dense_ood_train.data.image_io import list_images

TRACK_FOLDERS = {"anomaly": "dataset_AnomalyTrack", "obstacle": "dataset_ObstacleTrack"}
LABEL_SUFFIX = "_labels_semantic.png"


def open_smiyc(root: str | Path, track: str, include_unlabeled: bool = False) -> FileBenchmark:
    root = Path(root)
    folder = TRACK_FOLDERS[track]
    if (root / folder).is_dir():
        root = root / folder
    images = require_dir(root / "images", f"SMIYC {track} track")
    labels = root / "labels_masks"
    items = []
    for image in list_images(images):
        label = labels / f"{image.stem}{LABEL_SUFFIX}"
        if label.is_file():
            items.append(FileItem(image.stem, image, anomaly=label))
        elif include_unlabeled:
            items.append(FileItem(image.stem, image))
    name = "smiyc-anomaly" if track == "anomaly" else "smiyc-obstacle"
    return FileBenchmark(name, items, anomaly_map=lut_map({0: 0, 1: 1}), track=track)
