"""Palette colours and the overlay."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dense_ood_ros.pipeline import render

PALETTE = np.array([[128, 64, 128], [244, 35, 232], [0, 0, 142]], dtype=np.uint8)


def test_colorize_uses_the_palette_and_blacks_out_unknown_labels(rng) -> None:
    semantic = rng.integers(0, 3, (7, 9), dtype=np.uint8)
    semantic[0, 0] = 255  # void: no palette row
    color = render.colorize(semantic, PALETTE)
    assert color.shape == (7, 9, 3) and color.dtype == np.uint8
    expected = PALETTE[np.minimum(semantic, 2)]
    expected[0, 0] = 0
    np.testing.assert_array_equal(color, expected)
    np.testing.assert_array_equal(render.colorize(semantic, render.palette_lut(PALETTE)), color)


def test_colorize_rejects_non_label_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        render.colorize(np.zeros((2, 2), np.int32), PALETTE)


def test_overlay_without_anomalies_is_a_plain_blend(rng) -> None:
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    color = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = render.overlay(rgb, color, np.zeros((20, 30), np.uint8), alpha=0.25)
    np.testing.assert_array_equal(out, cv2.addWeighted(rgb, 0.75, color, 0.25, 0.0))


def test_overlay_marks_anomalies_with_tint_and_contour(rng) -> None:
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    color = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 20:45] = 255
    out = render.overlay(rgb, color, mask)
    blend = cv2.addWeighted(rgb, 0.5, color, 0.5, 0.0)
    np.testing.assert_array_equal(out[:8], blend[:8])  # far from the anomaly: untouched
    strength = render.ANOMALY_TINT_STRENGTH
    tint = (1 - strength) * rgb[15:25, 25:40] + strength * np.array(render.ANOMALY_TINT)
    assert np.abs(out[15:25, 25:40].astype(float) - tint).max() <= 1  # inside: tinted camera
    contour = np.array(render.ANOMALY_CONTOUR)
    assert (out[10, 20:45] == contour).all() and (out[9, 20:45] == contour).all()  # border
    assert (out[10:30, 19] == contour).all() and (out[29, 20:45] == contour).all()
    assert not (out[12:28, 22:43] == contour).all(axis=-1).any()  # not inside


def test_overlay_checks_sizes() -> None:
    with pytest.raises(ValueError, match="matching sizes"):
        render.overlay(
            np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8), np.zeros((4, 4), np.uint8)
        )


@pytest.mark.parametrize("shapes", [[(40, 10), (10, 80), (50, 90)], [(50, 90), (5, 5)]])
def test_overlay_tint_for_changing_frame_sizes(shapes, rng) -> None:
    for height, width in shapes:  # the cached tint image must follow any size
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        mask = np.full((height, width), 255, np.uint8)
        out = render.overlay(rgb, rgb, mask)
        strength = render.ANOMALY_TINT_STRENGTH
        tint = (1 - strength) * rgb + strength * np.array(render.ANOMALY_TINT)
        assert np.abs(out[1:-1, 1:-1].astype(float) - tint[1:-1, 1:-1]).max() <= 1
