"""camvid-pasted: real CamVid frames with anomalous objects drawn standing on the road.

The anomaly validation set on real backgrounds, for choices and thresholds (CamVid has no
anomalies of its own). Each frame is a CamVid frame of a split (default `val`, never trained on)
with 1-3 objects of synthroad-ood's kinds (anomaly_objects.py: animals, cardboard boxes, tyres,
mattresses, rocks, traffic cones), all procedural: drawn here, from nothing but code, so they
carry no licence of their own. None of them is a CamVid class, and they are kept apart from the
`objects` baseline's training negatives (data/negatives.py: blobs, stars, mosaics, scribbles),
as in the synthroad study.

Placement: a pinhole camera is fitted to each frame (horizon just above the farthest road pixel,
focal length one image width, camera 1.3 m above the ground, so objects shrink with distance);
objects stand on visible road (3 in 4) or pavement and are undone where they would cover a pole,
sign, fence, car, pedestrian, bicyclist or void pixel (those stand in front of them). Objects get
a mild finish (texture, exposure matched to the frame, blur, sensor noise), so flat colours and
hard edges are not a give-away.

Labels: anomaly 1 on object pixels, 0 elsewhere, 255 on CamVid void (id 11); semantic labels are
the CamVid ids (0..10) with 255 under objects and on void. `part` splits the frames of a split
by index for an honest protocol: `select` (even indices) for choosing variants, seeds and
thresholds, `report` (odd) for the figures reported, `all` for both. `variants` > 1 draws
several object sets per frame (different seeds). Frames are deterministic.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from dense_ood_train.benchmarks.anomaly_objects import ANOMALY_KINDS, MAX_HEIGHT, draw_anomaly
from dense_ood_train.benchmarks.base import VOID, Benchmark, BenchmarkError, BenchmarkFrame
from dense_ood_train.data.camvid import CamVidDataset
from dense_ood_train.data.canvas import Canvas
from dense_ood_train.data.class_sets import CAMVID
from dense_ood_train.data.labels import IGNORE_INDEX
from dense_ood_train.data.synth_objects import RoadCamera

PARTS = ("all", "select", "report")
CAMERA_HEIGHT_M = 1.3
_ID = {name: i for i, name in enumerate(CAMVID.names)}
_GROUND = (_ID["road"], _ID["pavement"])
# what stands in front of an object on the ground (plus void, whose content is unknown)
OCCLUDERS = np.zeros(256, dtype=bool)
for _name in ("pole", "sign_symbol", "fence", "car", "pedestrian", "bicyclist"):
    OCCLUDERS[_ID[_name]] = True
OCCLUDERS[IGNORE_INDEX] = True


def fit_camera(semantic: np.ndarray) -> RoadCamera:
    """A road camera for a frame: horizon a little above the farthest visible ground row."""
    height, width = semantic.shape
    rows = np.flatnonzero(np.isin(semantic, _GROUND).any(axis=1))
    top = int(rows[0]) if rows.size else int(0.5 * height)
    horizon = float(np.clip(top - 0.02 * height, 0.3 * height, 0.6 * height))
    return RoadCamera(
        height=height,
        width=width,
        focal=float(width),
        horizon=horizon,
        center_x=width / 2,
        cam_height=CAMERA_HEIGHT_M,
        cam_u=0.0,
        curve=0.0,
    )


def pick_ground_pixel(
    semantic: np.ndarray, cam: RoadCamera, rng: np.random.Generator, height_m: float
) -> tuple[float, float, float] | None:
    """(x, y, depth z) of a random road (3 in 4) or pavement pixel below the horizon, where an
    object `height_m` tall would stand out (6+ px, 80 m at most); None when there is none."""
    wanted = _ID["road"] if rng.random() < 0.75 else _ID["pavement"]
    ys, xs = np.nonzero(semantic == wanted)
    keep = ys > cam.horizon + 4
    if not keep.any():
        return None
    i = int(rng.integers(int(keep.sum())))
    x, y = float(xs[keep][i]), float(ys[keep][i])
    z = cam.depth_of_row(y)
    if not np.isfinite(z) or z > 80.0 or height_m * cam.pixels_per_metre(z) < 6.0:
        return None
    return x, y, z


def _pick_spot(
    semantic: np.ndarray, cam: RoadCamera, rng: np.random.Generator, kind: str
) -> tuple[float, float] | None:
    """A ground point (u, z) under a random road (or pavement) pixel below the horizon."""
    pixel = pick_ground_pixel(semantic, cam, rng, MAX_HEIGHT[kind])
    if pixel is None:
        return None
    x, _, z = pixel
    return (x - cam.center_x) * z / cam.focal, z


def _finish_objects(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
    """Texture, exposure, blur and noise on the drawn objects, in place."""
    if not mask.any():
        return
    obj: np.ndarray = rgb.astype(np.float32)
    grain = cv2.GaussianBlur(rng.normal(0, 1, mask.shape).astype(np.float32), (0, 0), 1.2)
    obj *= (1.0 + 0.08 * grain)[..., None]
    exposure = np.sqrt(max(rgb[~mask].mean(), 1.0) / max(rgb[mask].mean(), 1.0))
    obj *= float(np.clip(exposure, 0.6, 1.3))
    obj = cv2.GaussianBlur(obj, (0, 0), 0.7)
    obj += rng.normal(0, 2.5, obj.shape).astype(np.float32)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.6)[..., None]
    rgb[:] = np.clip(soft * obj + (1 - soft) * rgb, 0, 255).astype(np.uint8)


def paste_objects(
    image: np.ndarray,
    semantic: np.ndarray,
    seed: int,
    objects: tuple[int, int] = (1, 3),
    kinds: tuple[str, ...] = ANOMALY_KINDS,
    camera: RoadCamera | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb, anomaly 0/1/255, semantic with 255 under objects) for one real frame and seed.

    `semantic` holds CamVid ids (road and pavement are where objects may stand); `camera`
    defaults to one fitted to it."""
    rgb = image.copy()
    drawn = rgb.copy()
    anomaly = np.zeros(semantic.shape, dtype=np.uint8)
    cam = camera if camera is not None else fit_camera(semantic)
    cv = Canvas.wrap(drawn, anomaly)
    rng = np.random.default_rng([int(seed), 0xCA7])
    wanted = int(rng.integers(objects[0], objects[1] + 1))
    placed = 0
    for _ in range(40 * wanted):
        if placed == wanted:
            break
        kind = kinds[int(rng.integers(len(kinds)))]
        spot = _pick_spot(semantic, cam, rng, kind)
        if spot is None:
            continue
        before, drawn_before = anomaly.copy(), drawn.copy()
        draw_anomaly(cv, cam, np.random.default_rng(rng.integers(2**63)), kind, *spot, 0.7)
        new = (anomaly == 1) & (before == 0)
        if not new.any() or OCCLUDERS[semantic[new]].any():
            anomaly[:], drawn[:] = before, drawn_before
            continue
        placed += 1
    objects_mask = anomaly == 1
    # contact shadows darken the ground outside the mask: keep them, finish only the objects
    rgb[:] = drawn
    _finish_objects(rgb, objects_mask, rng)
    out_semantic = semantic.copy()
    out_semantic[objects_mask] = IGNORE_INDEX
    anomaly[(semantic == IGNORE_INDEX) & ~objects_mask] = VOID
    return rgb, anomaly, out_semantic


class CamVidPasted(Benchmark):
    """CamVid frames of `split` (and `part`) with procedural anomalies, made on access."""

    track = None  # pixel metrics: SMIYC's component size limits are set for 1280x720+ frames
    semantic_classes = CAMVID.names
    prefix = "camvid-pasted"

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        part: str = "all",
        variants: int = 1,
        objects: tuple[int, int] = (1, 3),
    ) -> None:
        if part not in PARTS:
            raise BenchmarkError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
        if variants < 1:
            raise BenchmarkError(f"variants must be positive, got {variants}")
        if not 1 <= objects[0] <= objects[1]:
            raise BenchmarkError(f"objects must be (min, max) with 1 <= min <= max, got {objects}")
        self.frames = CamVidDataset(root, split)
        indices = range(len(self.frames))
        if part != "all":
            indices = indices[0 if part == "select" else 1 :: 2]
        self.items = [(i, v) for i in indices for v in range(variants)]
        self.name = f"{self.prefix}-{split}" + ("" if part == "all" else f"-{part}")
        self.split, self.objects = split, (int(objects[0]), int(objects[1]))

    def paste(
        self, image: np.ndarray, semantic: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb, anomaly, semantic) of one frame with this benchmark's objects pasted in."""
        return paste_objects(image, semantic, seed, self.objects)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> BenchmarkFrame:
        frame_index, variant = self.items[index]
        image, semantic = self.frames[frame_index]
        seed = hash_seed(self.split, frame_index, variant)
        rgb, anomaly, semantic = self.paste(image, semantic, seed)
        stem = self.frames.name(frame_index)
        return BenchmarkFrame(f"{stem}_v{variant}", rgb, anomaly, semantic)


def hash_seed(split: str, index: int, variant: int) -> int:
    """A stable seed per (split, frame, variant), independent of Python's hash salt."""
    digest = hashlib.blake2b(f"{split}/{index}/{variant}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
