"""Write data/samples/: real dashcam frames (Udacity, MIT) with procedural anomalies pasted on
the road ahead, and their anomaly labels (0 inlier, 1 anomaly, 255 void: the bonnet).

    .venv/bin/python scripts/make_real_samples.py ../shared/data/realimages data/samples

The road is the ego lane ahead, as a trapezoid from the bottom of the frame to a little below
the horizon; the camera (horizon row, focal length) was read off the frames by eye, and the
1280x720 camera's focal length is the one its chessboard calibration gives (about 1150 px).
Objects: the same drawers and finish as the camvid-pasted benchmark.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np

from dense_ood_train.benchmarks.camvid_pasted import hash_seed, paste_objects
from dense_ood_train.data.class_sets import CAMVID
from dense_ood_train.data.image_io import read_rgb, write_label
from dense_ood_train.data.synth_objects import RoadCamera

# source folder -> (horizon as a share of the height, focal / width, bonnet rows from the bottom)
CAMERAS = {
    "udacity-carnd-advanced-lane-lines": (0.60, 0.90, 0.07),
    "udacity-carnd-lanelines": (0.585, 0.90, 0.0),
}
ROAD, OTHER = CAMVID.names.index("road"), CAMVID.names.index("building")


def ego_lane(height: int, width: int, horizon: float, bonnet: float) -> np.ndarray:
    """CamVid-id placement map: road in a trapezoid ahead, 'building' (neither ground nor an
    occluder) elsewhere, void on the bonnet."""
    semantic = np.full((height, width), OTHER, dtype=np.uint8)
    top = horizon + 0.06 * height
    bottom = height * (1 - bonnet) - 1
    poly = np.array(
        [[0.42 * width, top], [0.58 * width, top], [0.85 * width, bottom], [0.15 * width, bottom]]
    )
    cv2.fillPoly(semantic, [np.round(poly).astype(np.int32)], ROAD)
    if bonnet > 0:
        semantic[int(height * (1 - bonnet)) :] = 255
    return semantic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the realimages folder (its SOURCES.md)")
    parser.add_argument("output", type=Path, help="folder for the frames and labels/")
    args = parser.parse_args()
    (args.output / "labels").mkdir(parents=True, exist_ok=True)
    for folder, (horizon_share, focal_share, bonnet) in CAMERAS.items():
        shutil.copy(
            args.source / folder / "LICENSE.upstream-MIT.txt", args.output / f"LICENSE-{folder}.txt"
        )
        for index, path in enumerate(sorted((args.source / folder).glob("*.jpg"))):
            rgb = read_rgb(path)
            height, width = rgb.shape[:2]
            horizon = horizon_share * height
            camera = RoadCamera(
                height, width, focal_share * width, horizon, width / 2, 1.4, 0.0, 0.0
            )
            semantic = ego_lane(height, width, horizon, bonnet)
            seed = hash_seed(folder, index, 0)
            image, anomaly, _ = paste_objects(rgb, semantic, seed, (1, 2), camera=camera)
            anomaly[semantic == 255] = 255
            name = f"{path.stem}"
            cv2.imwrite(
                str(args.output / f"{name}.jpg"), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92]
            )
            write_label(args.output / "labels" / f"{name}.png", anomaly)
            print(f"{name}: {int((anomaly == 1).sum())} anomaly pixels")


if __name__ == "__main__":
    main()
