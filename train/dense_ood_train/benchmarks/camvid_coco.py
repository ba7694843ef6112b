"""camvid-coco: CamVid frames with real object photos (COCO cut-outs) standing on the road.

The benchmark of record for real roads. Same frames, halves and placement as camvid-pasted
(camvid_pasted.py): a CamVid frame of `split` (default `val`, never trained on), a pinhole camera
fitted to it, 1-3 objects standing on road (3 in 4) or pavement and shrinking with distance,
never covering a pole, sign, fence, car, pedestrian, bicyclist or void pixel. The objects are
real photos: the cut-outs of `objects_root` (default ../shared/data/coco_objects/val: lost
cargo and debris from COCO val2017, no animals, no road users), each `height_m` metres tall
(drawn per object) with its aspect kept, matched to the frame's exposure, lightly blurred and
noised like the camera's own pixels. The training side's cut-outs (train2017) are refused.

Labels: anomaly 1 where the object is opaque, 255 (void) on its partly transparent edge (the
alpha edge is kept in the image, so those pixels mix object and road) and on CamVid void; the
semantic labels are CamVid ids with 255 under objects. Frames are deterministic.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dense_ood_train.benchmarks.base import VOID, BenchmarkError
from dense_ood_train.benchmarks.camvid_pasted import (
    OCCLUDERS,
    CamVidPasted,
    fit_camera,
    pick_ground_pixel,
)
from dense_ood_train.data.cutouts import CutOut, CutOutFolder, resize_cutout
from dense_ood_train.data.labels import IGNORE_INDEX

DEFAULT_OBJECTS_ROOT = "../shared/data/coco_objects/val"
#: object heights in metres: debris and lost cargo, from a bag to a chair or a fridge on its side
HEIGHT_M = (0.3, 1.2)
MIN_HEIGHT_PX = 10


class CamVidCoco(CamVidPasted):
    """CamVid frames of `split` (and `part`) with COCO object photos, made on access."""

    prefix = "camvid-coco"

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        part: str = "all",
        variants: int = 1,
        objects: tuple[int, int] = (1, 3),
        objects_root: str | Path = DEFAULT_OBJECTS_ROOT,
        height_m: tuple[float, float] = HEIGHT_M,
    ) -> None:
        super().__init__(root, split, part, variants, objects)
        if not 0 < height_m[0] <= height_m[1]:
            raise BenchmarkError(f"height_m must be (min, max) with 0 < min <= max, got {height_m}")
        self.cutouts = CutOutFolder(objects_root, refuse_split="train2017")
        self.height_m = (float(height_m[0]), float(height_m[1]))

    def paste(
        self, image: np.ndarray, semantic: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return paste_cutouts(image, semantic, seed, self.cutouts, self.objects, self.height_m)


def paste_cutouts(
    image: np.ndarray,
    semantic: np.ndarray,
    seed: int,
    cutouts: CutOutFolder,
    objects: tuple[int, int] = (1, 3),
    height_m: tuple[float, float] = HEIGHT_M,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb, anomaly 0/1/255, semantic with 255 under objects) for one frame and seed."""
    rng = np.random.default_rng([int(seed), 0xC0C0])
    cam = fit_camera(semantic)
    rgb = image.copy()
    coverage = np.zeros(semantic.shape, np.uint8)  # the objects' alpha, 0..255
    wanted = int(rng.integers(objects[0], objects[1] + 1))
    placed = 0
    for _ in range(40 * wanted):
        if placed == wanted:
            break
        cutout = cutouts[int(rng.integers(len(cutouts)))]
        metres = float(rng.uniform(*height_m))
        pixel = pick_ground_pixel(semantic, cam, rng, metres)
        if pixel is None:
            continue
        x, y, z = pixel
        side = max(MIN_HEIGHT_PX, round(metres * cam.pixels_per_metre(z)))
        placed_box = _stand(cutout, side, x, y, semantic.shape, bool(rng.random() < 0.5))
        if placed_box is None:
            continue
        fitted, top, left = placed_box
        rows = slice(top, top + fitted.alpha.shape[0])
        cols = slice(left, left + fitted.alpha.shape[1])
        if OCCLUDERS[semantic[rows, cols][fitted.alpha > 0]].any():
            continue
        _composite(rgb[rows, cols], fitted, rng, float(image.mean()))
        np.maximum(coverage[rows, cols], fitted.alpha, out=coverage[rows, cols])
        placed += 1
    anomaly = np.where(coverage == 255, 1, 0).astype(np.uint8)
    anomaly[(coverage > 0) & (coverage < 255)] = VOID
    anomaly[(semantic == IGNORE_INDEX) & (coverage == 0)] = VOID
    out_semantic = semantic.copy()
    out_semantic[coverage > 0] = IGNORE_INDEX
    return rgb, anomaly, out_semantic


def _stand(
    cutout: CutOut, height: int, x: float, y: float, frame_hw: tuple[int, int], flip: bool
) -> tuple[CutOut, int, int] | None:
    """The cut-out `height` px tall (aspect kept), its bottom centre at (x, y): (resized, top,
    left), or None where it would leave the frame."""
    h, w = cutout.alpha.shape
    width = max(1, round(w * height / h))
    top, left = round(y) - height + 1, round(x - width / 2)
    if top < 0 or left < 0 or left + width > frame_hw[1] or top + height > frame_hw[0]:
        return None
    return resize_cutout(cutout, height, width, flip), top, left


def _composite(
    region: np.ndarray, fitted: CutOut, rng: np.random.Generator, frame_mean: float
) -> None:
    """Blend the object into `region` in place, through its alpha, after matching the frame's
    exposure and adding the blur and noise of a low-resolution video camera."""
    alpha = fitted.alpha.astype(np.float32)[..., None] / 255.0
    obj = fitted.rgb.astype(np.float32)
    object_mean = float((obj * alpha).sum() / max(3.0 * float(alpha.sum()), 1e-6))
    exposure = np.sqrt(max(frame_mean, 1.0) / max(object_mean, 1.0))
    obj *= float(np.clip(exposure, 0.6, 1.3))
    camera_like = cv2.GaussianBlur(obj, (0, 0), 0.6) + rng.normal(0, 2.5, obj.shape)
    blended = alpha * camera_like + (1.0 - alpha) * region.astype(np.float32)
    region[:] = np.clip(blended, 0, 255).astype(np.uint8)
