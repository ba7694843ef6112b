"""Colour pickers for the synthetic road scenes.

The palettes deliberately overlap across classes (grey cars, grey roads, grey facades; green
cars and green hedges; beige walls and beige pavements; white vans, white facades, overcast
sky) so that a segmenter cannot solve the task from colour alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Rng = np.random.Generator


def jitter(rng: Rng, color: np.ndarray | tuple, amount: float = 12.0) -> np.ndarray:
    """The colour plus independent noise per channel."""
    out = np.asarray(color, dtype=np.float64) + rng.normal(0, amount, 3)
    return np.minimum(np.maximum(out, 0.0), 255.0)


def shade(color: np.ndarray | tuple, factor: float) -> np.ndarray:
    return np.minimum(np.maximum(np.asarray(color, dtype=np.float64) * factor, 0.0), 255.0)


def grey(rng: Rng, lo: float, hi: float, tint: float = 6.0) -> np.ndarray:
    """A grey of value in [lo, hi] with a slight random tint."""
    return jitter(rng, np.full(3, rng.uniform(lo, hi)), tint)


def _pick(rng: Rng, options: list[tuple[float, Any]]) -> np.ndarray:
    weights = np.array([w for w, _ in options], dtype=np.float64)
    choice = options[rng.choice(len(options), p=weights / weights.sum())][1]
    return choice(rng) if callable(choice) else jitter(rng, choice)


def road(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [
            (5, lambda r: grey(r, 60, 135)),
            (1, (95, 90, 105)),  # bluish asphalt
            (1, (110, 100, 90)),  # brownish, dusty
            (1, lambda r: grey(r, 130, 165)),  # worn, sunlit concrete
        ],
    )


def sidewalk(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [
            (4, lambda r: grey(r, 95, 185)),
            (1, (150, 110, 100)),  # red pavers
            (1, (175, 160, 130)),  # beige slabs
            (1, (120, 115, 125)),
        ],
    )


def building(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [
            (4, lambda r: grey(r, 60, 210)),
            (2, (190, 170, 135)),  # beige render
            (2, (140, 80, 60)),  # brick
            (1, (215, 210, 195)),  # white
            (1, (200, 180, 110)),  # ochre
            (1, (150, 170, 185)),  # light blue
            (1, (110, 120, 100)),  # greenish grey
        ],
    )


def wall(rng: Rng) -> np.ndarray:
    return _pick(rng, [(3, lambda r: grey(r, 90, 190)), (1, (170, 150, 120)), (1, (130, 85, 65))])


def fence(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [(3, lambda r: grey(r, 60, 170)), (1, (110, 80, 50)), (1, (50, 90, 60)), (1, (30, 30, 35))],
    )


def vegetation(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [
            (
                5,
                lambda r: np.clip(
                    [r.uniform(30, 90), r.uniform(60, 140), r.uniform(20, 70)], 0, 255
                ),
            ),
            (1, (110, 110, 50)),  # olive
            (1, (150, 110, 40)),  # autumn
            (1, (60, 70, 55)),  # dark, in shade
            (1, (125, 125, 110)),  # dusty grey-green
        ],
    )


def terrain(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [
            (3, (100, 140, 60)),
            (2, (150, 150, 80)),
            (2, (130, 105, 75)),
            (1, lambda r: grey(r, 100, 150)),
        ],
    )


def vehicle(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [
            (3, lambda r: grey(r, 40, 200, 3)),  # silver, grey, dark
            (2, lambda r: grey(r, 200, 240, 2)),  # white
            (2, lambda r: grey(r, 15, 45, 2)),  # black
            (1, (150, 25, 25)),
            (1, (30, 50, 120)),
            (1, (40, 80, 50)),
            (1, (190, 160, 40)),
            (1, (110, 90, 70)),
        ],
    )


def clothing(rng: Rng) -> np.ndarray:
    return _pick(
        rng,
        [
            (3, lambda r: grey(r, 15, 200)),
            (2, lambda r: r.uniform(20, 220, 3)),
            (1, (40, 50, 90)),  # denim
            (1, (90, 60, 40)),
        ],
    )


def skin(rng: Rng) -> np.ndarray:
    tone = rng.uniform(0.35, 1.0)
    return jitter(rng, np.array([225, 180, 150]) * tone, 6)


def pole(rng: Rng) -> np.ndarray:
    return _pick(rng, [(4, lambda r: grey(r, 50, 170)), (1, (40, 70, 50)), (1, (150, 140, 120))])


SKY_KINDS = ("clear", "overcast", "haze", "dusk")


def sky(rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """(zenith colour, horizon colour)."""
    kind = SKY_KINDS[rng.choice(4, p=[0.4, 0.3, 0.15, 0.15])]
    if kind == "clear":
        top = np.array([rng.uniform(40, 90), rng.uniform(90, 140), rng.uniform(170, 230)])
        bottom = top + np.array([80, 60, 20]) * rng.uniform(0.5, 1.2)
    elif kind == "overcast":
        top = np.full(3, rng.uniform(140, 215)) + rng.normal(0, 4, 3)
        bottom = top + rng.uniform(-10, 25)
    elif kind == "haze":
        top = np.array([rng.uniform(160, 210), rng.uniform(170, 215), rng.uniform(180, 225)])
        bottom = np.full(3, rng.uniform(200, 240))
    else:
        top = np.array([rng.uniform(60, 110), rng.uniform(60, 100), rng.uniform(110, 160)])
        bottom = np.array([rng.uniform(200, 245), rng.uniform(130, 180), rng.uniform(80, 130)])
    return np.clip(top, 0, 255), np.clip(bottom, 0, 255)
