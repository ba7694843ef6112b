"""Sources of "real" negatives for the outlier-exposure baseline (pasting off-the-shelf objects).

A `NegativeSource` returns an RGB patch and its alpha (1 = negative pixel) at the requested size;
the trainer pastes it into an inlier crop. `ImageFolderNegatives` crops images from a folder
(e.g. ADE20K or COCO images, optionally with object masks), `ProceduralNegatives` draws
textured blobs, stars, mosaics and scribbles. These procedural kinds are deliberately disjoint
from the synthroad-ood test anomalies (animal silhouettes, boxes, tyres, mattresses, rocks,
cones), so the baseline is not trained on the test objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from dense_ood_train.data.image_io import DatasetError, list_images, read_rgb


@runtime_checkable
class NegativeSource(Protocol):
    def sample(
        self, rng: np.random.Generator, height: int, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rgb uint8 [height, width, 3], alpha float32 [height, width] in [0, 1])."""
        ...


class ImageFolderNegatives:
    """Random crops of the images in `directory`, resized to the requested size.

    With `masks_dir`, a mask with the same file stem (any image format; non-zero = object)
    gives the alpha, and the crop is the object's bounding box, padded a little; images
    without a mask are skipped. Without masks the whole crop is negative (alpha 1).
    """

    def __init__(
        self,
        directory: str | Path,
        masks_dir: str | Path | None = None,
        min_crop: float = 0.2,
        max_crop: float = 1.0,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"negatives folder {self.directory} does not exist")
        images = list_images(self.directory)
        self.masks: dict[str, Path] = {}
        if masks_dir is not None:
            self.masks = {p.stem: p for p in list_images(masks_dir)}
            images = [p for p in images if p.stem in self.masks]
        if not images:
            raise FileNotFoundError(f"no usable images in {self.directory}")
        self.images = images
        self.min_crop, self.max_crop = min_crop, max_crop

    def __len__(self) -> int:
        return len(self.images)

    def sample(
        self, rng: np.random.Generator, height: int, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        path = self.images[int(rng.integers(len(self.images)))]
        image = read_rgb(path)
        if self.masks:
            mask = cv2.imread(str(self.masks[path.stem]), cv2.IMREAD_GRAYSCALE)
            if mask is None or mask.shape != image.shape[:2] or not mask.any():
                raise OSError(f"mask for {path.name} is unreadable, empty or of another size")
            y0, y1, x0, x1 = _padded_bbox(mask > 0, 0.05)
            crop, alpha = image[y0:y1, x0:x1], (mask[y0:y1, x0:x1] > 0).astype(np.float32)
        else:
            h, w = image.shape[:2]
            ch = int(h * rng.uniform(self.min_crop, self.max_crop))
            cw = int(w * rng.uniform(self.min_crop, self.max_crop))
            ch, cw = max(ch, 1), max(cw, 1)
            y0, x0 = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
            crop, alpha = image[y0 : y0 + ch, x0 : x0 + cw], np.ones((ch, cw), np.float32)
        if rng.random() < 0.5:
            crop, alpha = crop[:, ::-1], alpha[:, ::-1]
        crop = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_AREA)
        resized = cv2.resize(
            np.ascontiguousarray(alpha), (width, height), interpolation=cv2.INTER_NEAREST
        )
        return crop, resized.astype(np.float32)


def _padded_bbox(mask: np.ndarray, pad: float) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    py, px = int((ys.max() - ys.min() + 1) * pad), int((xs.max() - xs.min() + 1) * pad)
    return (
        max(ys.min() - py, 0),
        min(ys.max() + py + 1, h),
        max(xs.min() - px, 0),
        min(xs.max() + px + 1, w),
    )


PROCEDURAL_KINDS = ("blob", "star", "mosaic", "scribble")
TEXTURES = ("stripes", "checker", "dots", "gradient", "noise")


class ProceduralNegatives:
    """Procedurally drawn textured objects: smooth blobs, stars, mosaics, scribbles."""

    def __init__(self, kinds: tuple[str, ...] = PROCEDURAL_KINDS) -> None:
        unknown = set(kinds) - set(PROCEDURAL_KINDS)
        if unknown or not kinds:
            raise DatasetError(
                f"unknown procedural kinds {sorted(unknown)}; choose from {PROCEDURAL_KINDS}"
            )
        self.kinds = tuple(kinds)

    def sample(
        self, rng: np.random.Generator, height: int, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        alpha = _SHAPES[kind](rng, height, width)
        if kind == "mosaic":
            rgb = _mosaic_texture(rng, height, width)
        else:
            rgb = texture(rng, height, width, TEXTURES[int(rng.integers(len(TEXTURES)))])
        return rgb, alpha


def texture(rng: np.random.Generator, height: int, width: int, kind: str) -> np.ndarray:
    """A two-colour texture of the given kind, RGB uint8."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    period = rng.uniform(3, 12) * max(1.0, min(height, width) / 48)
    if kind == "stripes":
        a = rng.uniform(0, np.pi)
        t = (np.sin((xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / period) > 0).astype(np.float32)
    elif kind == "checker":
        t = ((xx // period + yy // period) % 2).astype(np.float32)
    elif kind == "dots":
        t = ((xx % period) - period / 2) ** 2 + ((yy % period) - period / 2) ** 2 < (
            period / 3
        ) ** 2
        t = t.astype(np.float32)
    elif kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        g = xx * np.cos(a) + yy * np.sin(a)
        t = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    else:
        small = rng.random((max(2, height // 6), max(2, width // 6))).astype(np.float32)
        t = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    t = np.clip(t, 0, 1)[..., None]
    rgb = c0 * (1 - t) + c1 * t + rng.normal(0, 6, (height, width, 1))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _mosaic_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Voronoi patchwork of random colours."""
    n = int(rng.integers(4, 16))
    seeds = rng.uniform(0, 1, (n, 2)) * (width, height)
    cols = rng.uniform(0, 255, (n, 3))
    yy, xx = np.mgrid[:height, :width]
    d = (xx[..., None] - seeds[:, 0]) ** 2 + (yy[..., None] - seeds[:, 1]) ** 2
    return cols[d.argmin(-1)].astype(np.uint8)


def _blob(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    r = np.ones_like(t)
    for k in range(2, 6):
        r += rng.normal(0, 0.25 / k) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.3, None) / r.max() * 0.48
    return _fill(height, width, np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1))


def _star(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    n = int(rng.integers(4, 9))
    t = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) + rng.uniform(0, np.pi)
    r = np.where(np.arange(2 * n) % 2 == 0, 0.48, 0.48 * rng.uniform(0.3, 0.7))
    return _fill(height, width, np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1))


def _convex(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    pts = rng.uniform(0.02, 0.98, (int(rng.integers(5, 10)), 2)).astype(np.float32)
    return _fill(height, width, cv2.convexHull(pts).reshape(-1, 2))


def _scribble(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    alpha = np.zeros((height, width), np.float32)
    thickness = max(1, int(min(height, width) * rng.uniform(0.08, 0.2)))
    for _ in range(int(rng.integers(1, 4))):
        pts = np.cumsum(rng.normal(0, 0.25, (6, 2)), 0) + 0.5
        pts = (np.clip(pts, 0.05, 0.95) * (width - 1, height - 1)).astype(np.int32)
        cv2.polylines(alpha, [pts], False, 1.0, thickness)
    if not alpha.any():
        alpha[height // 2, width // 2] = 1.0
    return alpha


def _fill(height: int, width: int, unit_poly: np.ndarray) -> np.ndarray:
    alpha = np.zeros((height, width), np.float32)
    pts = np.round(np.asarray(unit_poly) * (width - 1, height - 1) * 16).astype(np.int32)
    cv2.fillPoly(alpha, [pts], 1.0, cv2.LINE_8, 4)
    return alpha


_SHAPES = {"blob": _blob, "star": _star, "mosaic": _convex, "scribble": _scribble}
