"""Pictures for people (RViz, reports): palette colours and the camera overlay.

Everything runs through OpenCV kernels (LUT, addWeighted, masked copies) because numpy fancy
indexing and boolean masks cost several times more at 1024x2048.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Colour (RGB) that tints anomalous pixels in the overlay; no Cityscapes class uses it.
ANOMALY_TINT = (255, 0, 255)
#: Strength of that tint over the camera image inside the anomaly mask.
ANOMALY_TINT_STRENGTH = 0.6
#: Colour (RGB) of the contour drawn around anomalies.
ANOMALY_CONTOUR = (255, 255, 0)

_SOLIDS: dict[tuple[int, int, int], np.ndarray] = {}


def palette_lut(palette: np.ndarray) -> np.ndarray:
    """A 256-entry RGB lookup table [256, 1, 3] (cv2.LUT's layout); labels past the palette are
    black (e.g. 255 = void)."""
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(palette) > 256:
        raise ValueError(f"a uint8 label image has at most 256 classes, palette has {len(palette)}")
    lut = np.zeros((256, 1, 3), dtype=np.uint8)
    lut[: len(palette), 0] = palette
    return lut


def colorize(semantic: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """RGB uint8 [H, W, 3]: the palette colour of each trainId in uint8 [H, W] `semantic`."""
    lut = palette if np.shape(palette) == (256, 1, 3) else palette_lut(palette)
    if semantic.dtype != np.uint8 or semantic.ndim != 2:
        raise ValueError(f"semantic must be uint8 [H, W], got {semantic.dtype} {semantic.shape}")
    # cv2.LUT maps each channel of a 3-channel image through the 3-channel table.
    return cv2.LUT(cv2.cvtColor(semantic, cv2.COLOR_GRAY2RGB), lut)


def overlay(rgb: np.ndarray, color: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The camera image with class colours blended in (`alpha`) and anomalies marked.

    Inside `mask` (uint8, nonzero = anomaly) the camera image gets a strong magenta tint instead
    of the class colour, and a yellow contour surrounds each anomalous region.
    """
    if rgb.shape != color.shape or rgb.shape[:2] != mask.shape:
        raise ValueError(
            f"overlay needs matching sizes, got rgb {rgb.shape}, color {color.shape}, "
            f"mask {mask.shape}"
        )
    out = cv2.addWeighted(rgb, 1.0 - alpha, color, alpha, 0.0)
    x, y, w, h = cv2.boundingRect(mask)  # of the nonzero pixels: anomalies are usually small
    if w == 0 or h == 0:
        return out
    margin = 2  # the contour may extend past the mask's bounding box
    y0, x0 = max(y - margin, 0), max(x - margin, 0)
    y1, x1 = min(y + h + margin, mask.shape[0]), min(x + w + margin, mask.shape[1])
    _mark(rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1], out[y0:y1, x0:x1])
    return out


def _mark(rgb: np.ndarray, mask: np.ndarray, out: np.ndarray) -> None:
    """Tint `mask` pixels of `rgb` and draw the mask's contour, writing into the view `out`."""
    height, width = mask.shape
    tint = _solid(height, width, ANOMALY_TINT)
    strength = ANOMALY_TINT_STRENGTH
    tinted = cv2.addWeighted(rgb, 1.0 - strength, tint, strength, 0.0)
    cv2.copyTo(tinted, mask, out)  # writes into `out` (a view of the overlay) where mask != 0
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    cv2.copyTo(_solid(height, width, ANOMALY_CONTOUR), edge, out)


def _solid(height: int, width: int, rgb: tuple[int, int, int]) -> np.ndarray:
    """A [height, width, 3] view of a cached single-colour image (filling one costs milliseconds).

    One image per colour, grown to the largest size asked for; read-only, so views are safe.
    """
    full = _SOLIDS.get(rgb)
    if full is None or full.shape[0] < height or full.shape[1] < width:
        rows, cols = (
            (height, width)
            if full is None
            else (max(height, full.shape[0]), max(width, full.shape[1]))
        )
        full = cv2.merge([np.full((rows, cols), value, dtype=np.uint8) for value in rgb])
        full.flags.writeable = False
        _SOLIDS[rgb] = full
    return full[:height, :width]
