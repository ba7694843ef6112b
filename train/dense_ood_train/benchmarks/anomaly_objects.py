"""The anomalous objects of synthroad-ood, drawn standing on the ground of a synthroad scene.

Kinds: animal silhouettes, cardboard boxes (shaded cuboids), tyres (rings), mattresses
(quilted slabs), rocks and traffic cones. None of them occurs in training: synthroad has no
such objects, the flow samples are blotchy textures, and the procedural training negatives
(data/negatives.py) are blobs, stars, mosaics and scribbles. Sizes are in metres and projected
with the scene's camera, so distant objects are small. Every drawer paints colour into the
canvas' rgb and 1 into its label (the anomaly mask).
"""

from __future__ import annotations

import cv2
import numpy as np

from dense_ood_train.data import synth_colors as colors
from dense_ood_train.data.canvas import Canvas
from dense_ood_train.data.synth_objects import RoadCamera, ground_band

Rng = np.random.Generator
ANOMALY = 1
ANOMALY_KINDS = ("animal", "box", "tyre", "mattress", "rock", "cone")


def draw_anomaly(
    cv: Canvas, cam: RoadCamera, rng: Rng, kind: str, u: float, z: float, shadow: float
) -> None:
    """Draw one object of `kind` whose footprint centre is at ground point (u, z)."""
    _DRAWERS[kind](cv, cam, rng, u, z, shadow)


def contact_shadow(
    cv: Canvas, cam: RoadCamera, u: float, z: float, half_w: float, half_d: float, f: float
) -> None:
    cv.shade_polygons([ground_band(cam, u - half_w, u + half_w, z - half_d, z + half_d, 4)], f)


def _cuboid(
    cv: Canvas,
    cam: RoadCamera,
    u: float,
    z: float,
    w: float,
    d: float,
    h: float,
    yaw: float,
    color: np.ndarray,
    top_color: np.ndarray | None = None,
) -> np.ndarray:
    """A shaded box on the ground (yaw about the vertical axis); returns its visible top face
    corners [4, 3] in road coordinates (u, y, z) for surface details."""
    c, s = np.cos(yaw), np.sin(yaw)
    local = np.array([[-w / 2, -d / 2], [w / 2, -d / 2], [w / 2, d / 2], [-w / 2, d / 2]])
    foot = np.stack(
        [u + local[:, 0] * c - local[:, 1] * s, z + local[:, 0] * s + local[:, 1] * c], 1
    )
    cam_pos = np.array([cam.lateral_offset(z), 0.0])  # camera's (u, z), locally straight road
    faces = []
    for i in range(4):
        a, b = foot[i], foot[(i + 1) % 4]
        mid = (a + b) / 2
        normal = mid - foot.mean(0)
        if np.dot(normal, cam_pos - mid) > 0:  # this side faces the camera
            quad = cam.project([a[0], b[0], b[0], a[0]], [0, 0, h, h], [a[1], b[1], b[1], a[1]])
            light = 0.65 + 0.35 * abs(np.dot(normal / np.linalg.norm(normal), [0.6, -0.8]))
            faces.append((np.linalg.norm(mid - cam_pos), quad, colors.shade(color, light)))
    for _, quad, col in sorted(faces, key=lambda f: -f[0]):
        cv.polygon(quad, col, ANOMALY)
    top = np.stack([foot[:, 0], np.full(4, h), foot[:, 1]], 1)
    if cam.cam_height > h:
        cv.polygon(
            cam.project(top[:, 0], top[:, 1], top[:, 2]),
            top_color if top_color is not None else colors.shade(color, 1.15),
            ANOMALY,
        )
    return top


def _box(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, shadow: float) -> None:
    w, d, h = rng.uniform(0.3, 1.0), rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.8)
    contact_shadow(cv, cam, u + 0.1, z + 0.1, w * 0.7, d * 0.7, shadow)
    card = colors.jitter(
        rng, [(165, 120, 75), (190, 150, 100), (140, 100, 60), (200, 190, 170)][rng.integers(4)], 10
    )
    top = _cuboid(cv, cam, u, z, w, d, h, rng.uniform(0, np.pi / 2), card)
    if cam.cam_height > h and rng.random() < 0.7:  # packing tape across the top
        a, b = (top[0] + top[1]) / 2, (top[2] + top[3]) / 2
        tape = np.array([a, b])
        pts = cam.project(tape[:, 0], tape[:, 1], tape[:, 2])
        width = max(1, int(0.06 * cam.pixels_per_metre(z)))
        cv.lines([pts], colors.jitter(rng, (200, 185, 150), 8), ANOMALY, width)


def _mattress(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, shadow: float) -> None:
    w, d, h = rng.uniform(0.9, 2.0), rng.uniform(1.2, 2.1), rng.uniform(0.12, 0.28)
    contact_shadow(cv, cam, u, z, w * 0.6, d * 0.6, shadow)
    cloth = colors.jitter(
        rng,
        [(225, 225, 215), (200, 210, 230), (230, 200, 200), (180, 190, 170)][rng.integers(4)],
        8,
    )
    top = _cuboid(cv, cam, u, z, w, d, h, rng.uniform(-0.6, 0.6), colors.shade(cloth, 0.8), cloth)
    n = int(rng.integers(3, 7))  # quilting: a grid of seams on the top face
    seams = []
    for t in np.linspace(0, 1, n + 1)[1:-1]:
        for p, q in (
            (top[0] + (top[1] - top[0]) * t, top[3] + (top[2] - top[3]) * t),
            (top[0] + (top[3] - top[0]) * t, top[1] + (top[2] - top[1]) * t),
        ):
            seams.append(cam.project([p[0], q[0]], [p[1], q[1]], [p[2], q[2]]))
    cv.lines(seams, colors.shade(cloth, 0.7), None, 1)


def _tyre(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, shadow: float) -> None:
    r = rng.uniform(0.28, 0.45)
    ppm = cam.pixels_per_metre(z)
    rubber = colors.grey(rng, 15, 45, 3)
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    if rng.random() < 0.6:  # standing upright, seen at an angle
        contact_shadow(cv, cam, u, z, r, 0.15, shadow)
        squash = rng.uniform(0.3, 1.0)
        centre = cam.project(u, r, z)
        outer = centre + np.stack([np.cos(t) * r * squash, np.sin(t) * r], 1) * ppm
        inner = centre + np.stack([np.cos(t) * r * squash, np.sin(t) * r], 1) * ppm * 0.55
        cv.polygons([outer, inner], rubber, ANOMALY)
        tread = [
            centre
            + np.array(
                [
                    [np.cos(a) * r * squash * 0.58, np.sin(a) * r * 0.58],
                    [np.cos(a) * r * squash * 0.95, np.sin(a) * r * 0.95],
                ]
            )
            * ppm
            for a in t[::4]
        ]
        cv.lines(tread, colors.shade(rubber, 1.6), None, 1)
    else:  # lying flat: rings on the ground plane, with its height
        contact_shadow(cv, cam, u, z, r * 1.1, r * 1.1, shadow)

        def ring(rad: float, y: float) -> np.ndarray:
            return cam.project(u + np.cos(t) * rad, np.full_like(t, y), z + np.sin(t) * rad)

        wall = np.concatenate([ring(r, 0.0), ring(r, 0.2)]).astype(np.float32)
        cv.polygon(cv2.convexHull(wall).reshape(-1, 2), colors.shade(rubber, 0.8), ANOMALY)
        cv.polygons([ring(r, 0.2), ring(r * 0.55, 0.2)], rubber, ANOMALY)


def _rock(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, shadow: float) -> None:
    w = rng.uniform(0.2, 1.1)
    h = w * rng.uniform(0.4, 0.9)
    contact_shadow(cv, cam, u + 0.05, z + 0.05, w * 0.6, w * 0.4, shadow)
    ppm = cam.pixels_per_metre(z)
    base = cam.project(u, 0.0, z)
    n = int(rng.integers(7, 12))
    t = np.sort(rng.uniform(0, np.pi, n))[::-1]  # the upper outline, right to left
    rad = rng.uniform(0.75, 1.0, n)
    outline = np.stack([np.cos(t) * rad * w / 2, -np.sin(t) * rad * h], 1) * ppm + base
    stone = colors.jitter(
        rng, [(120, 115, 110), (140, 120, 95), (90, 90, 95), (170, 160, 140)][rng.integers(4)], 10
    )
    cv.polygon(outline, stone, ANOMALY)
    centre = base + np.array([0.0, -h * 0.45 * ppm])
    facets = [np.array([centre, outline[i], outline[i + 1]]) for i in range(n - 1)]
    for i, facet in enumerate(facets):  # faceted shading, lit from the upper left
        cv.polygon(facet, colors.shade(stone, 0.7 + 0.5 * i / max(n - 2, 1)), None)


def _cone(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, shadow: float) -> None:
    h = rng.uniform(0.3, 1.0)
    b = h * rng.uniform(0.3, 0.4)
    contact_shadow(cv, cam, u + 0.05, z + 0.05, b * 0.8, b * 0.8, shadow)
    body = colors.jitter(rng, [(240, 90, 20), (230, 50, 30), (245, 200, 30)][rng.integers(3)], 8)
    plate = colors.grey(rng, 15, 40, 3)

    def p(du: float, y: float) -> np.ndarray:
        return cam.project(u + du, y, z)

    cv.polygon(
        np.array([p(-b * 0.75, 0), p(b * 0.75, 0), p(b * 0.75, 0.05 * h), p(-b * 0.75, 0.05 * h)]),
        plate,
        ANOMALY,
    )
    tip = 0.06 * b
    cv.polygon(
        np.array([p(-b / 2, 0.05 * h), p(b / 2, 0.05 * h), p(tip, h), p(-tip, h)]), body, ANOMALY
    )
    for y0 in (0.35, 0.62)[: int(rng.integers(1, 3))]:
        y1 = y0 + 0.12

        def half(y: float) -> float:
            return b / 2 + (tip - b / 2) * (y - 0.05 * h) / (0.95 * h)

        cv.polygon(
            np.array(
                [
                    p(-half(y0 * h), y0 * h),
                    p(half(y0 * h), y0 * h),
                    p(half(y1 * h), y1 * h),
                    p(-half(y1 * h), y1 * h),
                ]
            ),
            colors.grey(rng, 215, 245, 3),
            None,
        )


def _animal(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, shadow: float) -> None:
    """A quadruped in profile: body, neck and head, legs, ears, tail (dog, deer, cow, boar...)."""
    length = rng.uniform(0.5, 2.0)
    leg = length * rng.uniform(0.35, 0.6)
    body_h = length * rng.uniform(0.3, 0.45)
    facing = rng.choice([-1.0, 1.0])
    contact_shadow(cv, cam, u, z, length * 0.55, 0.3, shadow)
    coat = colors.jitter(
        rng,
        [(120, 80, 45), (40, 35, 30), (200, 190, 170), (150, 110, 70), (110, 105, 100)][
            rng.integers(5)
        ],
        12,
    )
    ppm = cam.pixels_per_metre(z)
    base = cam.project(u, 0.0, z)

    def pt(x: float, y: float) -> np.ndarray:  # metres in the animal's plane -> pixels
        return base + np.array([x * facing, -y]) * ppm

    body_c = pt(0.0, leg + body_h / 2)
    cv.ellipse(body_c, (length / 2 * ppm, body_h / 2 * ppm), coat, ANOMALY)
    legs = []
    for x in (-0.38, -0.28, 0.3, 0.4):
        x0 = x * length
        kick = rng.normal(0, 0.05) * length
        legs.append(
            np.array(
                [
                    pt(x0 - 0.04 * length, leg + 0.05),
                    pt(x0 + 0.04 * length, leg + 0.05),
                    pt(x0 + kick + 0.03 * length, 0.0),
                    pt(x0 + kick - 0.03 * length, 0.0),
                ]
            )
        )
    cv.polygons(legs, colors.shade(coat, 0.85), ANOMALY)
    neck_top = (0.55 * length, leg + body_h * rng.uniform(0.9, 1.6))
    neck = np.array(
        [
            pt(0.3 * length, leg + body_h * 0.9),
            pt(0.45 * length, leg + body_h * 0.3),
            pt(neck_top[0] + 0.05 * length, neck_top[1] - 0.05),
            pt(neck_top[0] - 0.08 * length, neck_top[1]),
        ]
    )
    cv.polygon(neck, coat, ANOMALY)
    head_c = pt(neck_top[0] + 0.08 * length, neck_top[1])
    cv.ellipse(
        head_c, (0.14 * length * ppm, 0.08 * length * ppm), coat, ANOMALY, angle=20.0 * facing
    )
    ear = np.array(
        [
            pt(neck_top[0], neck_top[1] + 0.05 * length),
            pt(neck_top[0] + 0.03 * length, neck_top[1] + 0.14 * length),
            pt(neck_top[0] + 0.06 * length, neck_top[1] + 0.04 * length),
        ]
    )
    cv.polygon(ear, colors.shade(coat, 0.8), ANOMALY)
    tail = np.array(
        [
            pt(-0.48 * length, leg + body_h * 0.8),
            pt(-0.62 * length, leg + body_h * rng.uniform(0.1, 1.0)),
        ]
    )
    cv.lines([tail], coat, ANOMALY, max(1, int(0.03 * length * ppm)))
    if rng.random() < 0.4:  # patches (a cow, a spotted dog)
        spot = colors.grey(rng, 20, 230, 5)
        for _ in range(int(rng.integers(2, 5))):
            c = pt(rng.uniform(-0.35, 0.35) * length, leg + body_h * rng.uniform(0.3, 0.7))
            cv.ellipse(
                c,
                (rng.uniform(0.05, 0.12) * length * ppm, rng.uniform(0.04, 0.1) * length * ppm),
                spot,
                None,
            )


_DRAWERS = {
    "animal": _animal,
    "box": _box,
    "tyre": _tyre,
    "mattress": _mattress,
    "rock": _rock,
    "cone": _cone,
}

# rough object heights (m) for sizing checks: the tallest each kind can be
MAX_HEIGHT = {"animal": 2.4, "box": 0.8, "tyre": 0.9, "mattress": 0.3, "rock": 1.0, "cone": 1.0}
