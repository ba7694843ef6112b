"""A paired RGB + label canvas for procedural drawing (synthetic scenes, pasted objects).

Every shape is drawn into the colour image and the label image with the same rasterisation, so
the two stay pixel-aligned. Points are float pixel coordinates (x, y); they are rasterised with
4 bits of sub-pixel precision so that small, distant shapes keep their position.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from dense_ood_train.data.image_io import DatasetError

_SHIFT = 4
_ONE = 1 << _SHIFT

Color = Sequence[float] | np.ndarray
Point = Sequence[float] | np.ndarray  # (x, y) in pixels


def _fixed(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.round(pts * _ONE).astype(np.int32)


def _color(color: Color) -> tuple[int, int, int]:
    c = np.clip(np.asarray(color, dtype=np.float64), 0, 255)
    return (int(c[0]), int(c[1]), int(c[2]))


class Canvas:
    """RGB uint8 [H, W, 3] and label uint8 [H, W], drawn together.

    `label=None` paints colour only (texture details inside an already labelled region).
    """

    def __init__(self, height: int, width: int, fill_label: int = 255) -> None:
        self.rgb = np.zeros((height, width, 3), dtype=np.uint8)
        self.label = np.full((height, width), fill_label, dtype=np.uint8)
        self.height = height
        self.width = width

    @classmethod
    def wrap(cls, rgb: np.ndarray, label: np.ndarray) -> Canvas:
        """Draw into existing arrays (uint8 [H, W, 3] and uint8 [H, W]), in place."""
        if rgb.shape[:2] != label.shape or rgb.dtype != np.uint8 or label.dtype != np.uint8:
            raise DatasetError("wrap needs uint8 rgb [H, W, 3] and label [H, W] of the same size")
        cv = cls.__new__(cls)
        cv.rgb, cv.label = rgb, label
        cv.height, cv.width = label.shape
        return cv

    def polygons(self, polys: Sequence[np.ndarray], color: Color, label: int | None) -> None:
        """Fill polygons (each [N, 2] float x, y) in one call; where they overlap, the even-odd
        rule applies (an inner contour cuts a hole: rings)."""
        pts = [_fixed(p) for p in polys if len(p) >= 3]
        if not pts:
            return
        cv2.fillPoly(self.rgb, pts, _color(color), cv2.LINE_8, _SHIFT)
        if label is not None:
            cv2.fillPoly(self.label, pts, int(label), cv2.LINE_8, _SHIFT)

    def polygon(self, poly: np.ndarray, color: Color, label: int | None) -> None:
        self.polygons([poly], color, label)

    def ellipse(
        self,
        center: Point,
        axes: Point,
        color: Color,
        label: int | None,
        angle: float = 0.0,
    ) -> None:
        """Filled ellipse; axes are half-widths in pixels (at least half a pixel is drawn)."""
        c = (round(center[0] * _ONE), round(center[1] * _ONE))
        ax = (max(round(axes[0] * _ONE), _ONE // 2), max(round(axes[1] * _ONE), _ONE // 2))
        cv2.ellipse(self.rgb, c, ax, angle, 0, 360, _color(color), -1, cv2.LINE_8, _SHIFT)
        if label is not None:
            cv2.ellipse(self.label, c, ax, angle, 0, 360, int(label), -1, cv2.LINE_8, _SHIFT)

    def lines(
        self, polylines: Sequence[np.ndarray], color: Color, label: int | None, thickness: int = 1
    ) -> None:
        """Open polylines of integer pixel `thickness`."""
        pts = [_fixed(p) for p in polylines if len(p) >= 2]
        if not pts:
            return
        cv2.polylines(self.rgb, pts, False, _color(color), thickness, cv2.LINE_8, _SHIFT)
        if label is not None:
            cv2.polylines(self.label, pts, False, int(label), thickness, cv2.LINE_8, _SHIFT)

    def shade_polygons(self, polys: Sequence[np.ndarray], factor: float) -> None:
        """Multiply the colour under the polygons by `factor` (shadows); labels untouched."""
        pts = [_fixed(p) for p in polys if len(p) >= 3]
        if not pts:
            return
        allpts = np.concatenate(pts) >> _SHIFT
        x0, y0 = np.maximum(allpts.min(0) - 1, 0)
        x1, y1 = np.minimum(allpts.max(0) + 2, (self.width, self.height))
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        offset = np.array([x0, y0], dtype=np.int32) * _ONE
        cv2.fillPoly(mask, [p - offset for p in pts], 1, cv2.LINE_8, _SHIFT)
        region = self.rgb[y0:y1, x0:x1]
        sel = mask.astype(bool)
        region[sel] = (region[sel] * factor).astype(np.uint8)
