"""A benchmark in plain folders (our exchange format; `synthroad_ood.write_folder` writes it):

    <root>/images/<stem>.(png|jpg|...)     RGB images
    <root>/labels/<stem>.png               anomaly labels: 0 inlier, 1 anomaly, 255 void
    <root>/semantic/<stem>.png             optional: Cityscapes trainIds (255 ignore) for mIoU

Images are matched to labels by file stem; an image without a label has no anomaly labels.
Label values other than 0/1/255 are an error (e.g. a 0/255 binary mask given by mistake would
otherwise be read as all-void objects).
"""

from __future__ import annotations

from pathlib import Path

from dense_ood_train.benchmarks.base import (
    FileBenchmark,
    FileItem,
    check_anomaly_values,
    require_dir,
)
from dense_ood_train.data.image_io import list_images


def open_folder(
    root: str | Path, track: str | None = None, require_labels: bool = True
) -> FileBenchmark:
    root = Path(root)
    images = require_dir(root / "images", "folder benchmark")
    labels = root / "labels"
    if require_labels:
        require_dir(labels, "folder benchmark")
    semantic = root / "semantic"
    items = []
    for image in list_images(images):
        label = labels / f"{image.stem}.png"
        sem = semantic / f"{image.stem}.png"
        if require_labels and not label.is_file():
            raise FileNotFoundError(
                f"folder benchmark: no label labels/{label.name} for {image.name}"
            )
        items.append(
            FileItem(
                image.stem,
                image,
                anomaly=label if label.is_file() else None,
                semantic=sem if sem.is_file() else None,
            )
        )
    return FileBenchmark(
        f"folder:{root.name}", items, anomaly_map=check_anomaly_values, track=track
    )
