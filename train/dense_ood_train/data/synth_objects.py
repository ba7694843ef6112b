"""The road camera and the objects of the synthetic scenes, drawn in 3-D road coordinates.

Road coordinates: `u` metres lateral from the road's centre line (positive to the right),
`y` metres above the ground, `z` metres ahead of the camera. The road may curve: a point at
(u, z) lies at lateral world position u + curve * z**2. A pinhole camera at height
`cam_height` and lateral position `cam_u` projects it; sizes in pixels therefore follow
perspective, and painting objects from far to near gives the right occlusion order.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dense_ood_train.data import synth_colors as colors
from dense_ood_train.data.canvas import Canvas
from dense_ood_train.data.labels import TRAIN_ID

Rng = np.random.Generator
MIN_Z = 0.3
_SCALAR = (float, int)  # numpy float64 is a float: the fast path for single points


@dataclass(frozen=True)
class RoadCamera:
    """Pinhole camera looking along the road; `horizon` and `center_x` in pixels."""

    height: int
    width: int
    focal: float
    horizon: float
    center_x: float
    cam_height: float
    cam_u: float
    curve: float

    def project(self, u, y, z) -> np.ndarray:
        """Road coordinates (broadcastable arrays) -> pixel coordinates [..., 2] (x, y)."""
        if isinstance(u, _SCALAR) and isinstance(y, _SCALAR) and isinstance(z, _SCALAR):
            z = max(z, MIN_Z)
            x = self.center_x + self.focal * (u + self.curve * z * z - self.cam_u) / z
            return np.array([x, self.horizon + self.focal * (self.cam_height - y) / z])
        u = np.asarray(u, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        z = np.maximum(np.asarray(z, dtype=np.float64), MIN_Z)
        out = np.empty((*np.broadcast_shapes(u.shape, y.shape, z.shape), 2))
        out[..., 0] = self.center_x + self.focal * (u + self.curve * z * z - self.cam_u) / z
        out[..., 1] = self.horizon + self.focal * (self.cam_height - y) / z
        return out

    def depth_of_row(self, row: float) -> float:
        """Distance (m) of the ground seen at image row `row` (inf at or above the horizon)."""
        dv = row - self.horizon
        return float("inf") if dv <= 0 else self.focal * self.cam_height / dv

    def pixels_per_metre(self, z: float) -> float:
        return self.focal / max(z, MIN_Z)

    def lateral_offset(self, z: float) -> float:
        """Road coordinate u under the camera's optical axis at depth z (for centring things)."""
        return self.cam_u - self.curve * z * z


def ground_band(
    cam: RoadCamera, u0: float, u1: float, z0: float, z1: float, n: int = 24
) -> np.ndarray:
    """Polygon of the ground strip u0..u1 between depths z0..z1 (follows the curve)."""
    zs = np.geomspace(max(z0, MIN_Z), z1, n)
    left = cam.project(u0, 0.0, zs)
    right = cam.project(u1, 0.0, zs[::-1])
    return np.concatenate([left, right])


def lateral_rect(
    cam: RoadCamera, u0: float, u1: float, y0: float, y1: float, z: float
) -> np.ndarray:
    """A rectangle facing the camera (constant depth z)."""
    return cam.project([u0, u1, u1, u0], [y0, y0, y1, y1], z)


def side_rect(
    cam: RoadCamera, u: float, y0: float, y1: float, z0: float, z1: float, n: int = 2
) -> np.ndarray:
    """A rectangle parallel to the road (constant u): facades, fences, car sides."""
    zs = np.linspace(z0, z1, n)
    bottom = cam.project(u, y0, zs)
    top = cam.project(u, y1, zs[::-1])
    return np.concatenate([bottom, top])


def box_hull(
    cam: RoadCamera, u0: float, u1: float, y0: float, y1: float, z0: float, z1: float
) -> np.ndarray:
    """Silhouette (convex hull) of an axis-aligned box."""
    uu, yy, zz = np.meshgrid([u0, u1], [y0, y1], [z0, z1], indexing="ij")
    pts = cam.project(uu.ravel(), yy.ravel(), zz.ravel()).astype(np.float32)
    return cv2.convexHull(pts).reshape(-1, 2)


def visible_side(cam: RoadCamera, u: float, z: float) -> int:
    """-1 when the left (u0) side of a thing at (u, z) faces the camera, +1 for the right side."""
    return -1 if u + cam.curve * z * z - cam.cam_u > 0 else 1


# ----------------------------------------------------------------------------------- vehicles


VEHICLE_KINDS = {
    # kind: (trainId, width, height, length) ranges in metres
    "car": ("car", (1.6, 1.95), (1.35, 1.7), (3.8, 4.9)),
    "van": ("car", (1.8, 2.05), (1.8, 2.3), (4.6, 5.6)),
    "truck": ("truck", (2.3, 2.55), (2.8, 3.8), (6.5, 10.0)),
    "bus": ("bus", (2.45, 2.55), (2.9, 3.3), (10.0, 13.0)),
}


def draw_vehicle(
    cv: Canvas,
    cam: RoadCamera,
    rng: Rng,
    kind: str,
    u: float,
    z: float,
    facing_away: bool,
    shadow: float,
) -> None:
    """A vehicle whose nearest face is at depth z, centred at lateral position u."""
    name, wr, hr, lr = VEHICLE_KINDS[kind]
    label = TRAIN_ID[name]
    w, h, length = rng.uniform(*wr), rng.uniform(*hr), rng.uniform(*lr)
    u0, u1, z1 = u - w / 2, u + w / 2, z + length
    body = (
        colors.vehicle(rng)
        if kind != "bus" or rng.random() < 0.5
        else colors.jitter(rng, (200, 40, 30))
    )
    side = visible_side(cam, u, z)
    clear = 0.2 if kind in ("car", "van") else 0.45
    belt = {"car": 0.58, "van": 0.55, "truck": 0.35, "bus": 0.4}[kind] * h

    cv.shade_polygons([ground_band(cam, u0 - 0.15, u1 + 0.15, z - 0.3, z1 + 0.2, 4)], shadow)
    tyre = colors.grey(rng, 15, 40, 2)
    # wheels show below the body: a dark box under the whole vehicle, narrowed
    cv.polygon(
        box_hull(cam, u0 + 0.05, u1 - 0.05, 0.0, clear + 0.1, z + 0.5, z1 - 0.5), tyre, label
    )
    cv.polygon(box_hull(cam, u0, u1, clear, belt, z, z1), colors.shade(body, 0.75), label)
    cv.polygon(lateral_rect(cam, u0, u1, clear, belt, z), body, label)
    glass = colors.grey(rng, 20, 70, 8)
    lights = (200, 30, 25) if facing_away else (235, 235, 215)
    lw = 0.18 * w
    lamp_y = (belt - 0.25, belt - 0.08) if kind in ("car", "van") else (clear + 0.2, clear + 0.45)
    lamps = [
        lateral_rect(cam, u0 + 0.05, u0 + 0.05 + lw, *lamp_y, z - 0.01),
        lateral_rect(cam, u1 - 0.05 - lw, u1 - 0.05, *lamp_y, z - 0.01),
    ]
    cv.polygons(lamps, colors.jitter(rng, lights, 10), label)
    if kind in ("car", "van"):
        c0 = z + (0.25 if kind == "car" else 0.05) * length
        c1 = z1 - 0.2 * length if kind == "car" else z1 - 0.1
        cabin = (u0 + 0.1 * w, u1 - 0.1 * w)
        cv.polygon(box_hull(cam, *cabin, belt, h, c0, c1), colors.shade(body, 0.9), label)
        cv.polygon(
            lateral_rect(cam, cabin[0] + 0.08, cabin[1] - 0.08, belt + 0.05, h - 0.06, c0),
            glass,
            label,
        )
        cv.polygon(
            side_rect(
                cam, cabin[0] if side < 0 else cabin[1], belt + 0.07, h - 0.07, c0 + 0.2, c1 - 0.1
            ),
            colors.shade(glass, 1.2),
            label,
        )
    else:
        cv.polygon(box_hull(cam, u0, u1, belt, h, z, z1), colors.shade(body, 0.8), label)
        cv.polygon(lateral_rect(cam, u0, u1, belt, h, z), colors.shade(body, 1.05), label)
        top = h - 0.3
        if kind == "bus":
            cv.polygon(
                side_rect(cam, u0 if side < 0 else u1, belt + 0.4, top, z + 0.5, z1 - 0.5, 3),
                glass,
                label,
            )
        cv.polygon(lateral_rect(cam, u0 + 0.2, u1 - 0.2, h - 1.2, top, z - 0.01), glass, label)


# ------------------------------------------------------------------------------------ people


def draw_person(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, shadow: float) -> None:
    """A standing or walking pedestrian facing roughly towards or away from the camera."""
    label = TRAIN_ID["person"]
    h = rng.uniform(1.45, 1.95)
    stride = rng.uniform(0.0, 0.25) * h * rng.choice([-1, 1])
    top_c, bottom_c, sk = colors.clothing(rng), colors.clothing(rng), colors.skin(rng)
    hair = colors.grey(rng, 10, 120, 10)
    hip, shoulder = 0.5 * h, 0.81 * h
    leg_w, torso_w = 0.075 * h, 0.15 * h

    cv.shade_polygons([ground_band(cam, u - 0.3, u + 0.3, z - 0.25, z + 0.25, 3)], shadow)

    def limb(ux0: float, y0: float, ux1: float, y1: float, width: float) -> np.ndarray:
        return cam.project(
            [u + ux0 - width / 2, u + ux0 + width / 2, u + ux1 + width / 2, u + ux1 - width / 2],
            [y0, y0, y1, y1],
            z,
        )

    legs = [
        limb(-0.04 * h, hip, -0.05 * h - stride / 2, 0, leg_w),
        limb(0.04 * h, hip, 0.05 * h + stride / 2, 0, leg_w),
    ]
    cv.polygons(legs, bottom_c, label)
    torso = cam.project(
        [u - 0.9 * torso_w, u + 0.9 * torso_w, u + torso_w, u - torso_w],
        [hip, hip, shoulder, shoulder],
        z,
    )
    cv.polygon(torso, top_c, label)
    swing = -stride * 0.6
    arms = [
        limb(-torso_w - 0.02 * h, shoulder, -torso_w - 0.04 * h + swing, hip - 0.05 * h, 0.05 * h),
        limb(torso_w + 0.02 * h, shoulder, torso_w + 0.04 * h - swing, hip - 0.05 * h, 0.05 * h),
    ]
    cv.polygons(arms, colors.shade(top_c, 0.9), label)
    ppm = cam.pixels_per_metre(z)
    head = cam.project(u, 0.91 * h, z)
    cv.ellipse(head, (0.055 * h * ppm, 0.07 * h * ppm), sk, label)
    cv.ellipse(cam.project(u, 0.94 * h, z), (0.057 * h * ppm, 0.045 * h * ppm), hair, label)
    if rng.random() < 0.25:  # a bag or backpack
        bag = lateral_rect(
            cam, u + torso_w, u + torso_w + 0.12 * h, hip - 0.1 * h, hip + 0.1 * h, z - 0.05
        )
        cv.polygon(bag, colors.clothing(rng), label)


# -------------------------------------------------------------------------------- vegetation


def draw_tree(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, leaf: np.ndarray) -> None:
    """A tree: trunk and a crown of overlapping blobs (all vegetation, as in Cityscapes)."""
    label = TRAIN_ID["vegetation"]
    trunk_h = rng.uniform(1.5, 4.0)
    trunk_w = rng.uniform(0.15, 0.45)
    radius = rng.uniform(1.2, 4.0)
    trunk = colors.jitter(rng, (85, 70, 55), 15)
    cv.polygon(
        lateral_rect(cam, u - trunk_w / 2, u + trunk_w / 2, 0, trunk_h + radius * 0.5, z),
        trunk,
        label,
    )
    ppm = cam.pixels_per_metre(z)
    for _ in range(rng.integers(3, 8)):
        du, dy = rng.normal(0, radius * 0.45, 2)
        r = radius * rng.uniform(0.45, 0.8)
        c = cam.project(u + du, trunk_h + radius + dy * 0.8, z)
        cv.ellipse(
            c, (r * ppm, r * ppm * rng.uniform(0.7, 1.1)), colors.jitter(rng, leaf, 14), label
        )


def draw_hedge(
    cv: Canvas, cam: RoadCamera, u: float, z0: float, z1: float, h: float, leaf: np.ndarray
) -> None:
    """A segment (z0..z1) of a hedge of height h."""
    n = max(2, int((z1 - z0) / 4) + 2) if cam.curve else 2
    cv.polygon(side_rect(cam, u, 0, h, z0, z1, n), leaf, TRAIN_ID["vegetation"])


# ---------------------------------------------------------------------------- street furniture


SIGN_SHAPES = ("circle", "triangle", "square", "diamond", "rect")


def draw_pole(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, z: float, toward_road: int) -> None:
    """A pole (street light or sign post), sometimes with signs and a traffic light."""
    label = TRAIN_ID["pole"]
    color = colors.pole(rng)
    h = rng.uniform(3.0, 9.0)
    pw = rng.uniform(0.08, 0.22)
    poly = lateral_rect(cam, u - pw / 2, u + pw / 2, 0, h, z)
    if abs(poly[1, 0] - poly[0, 0]) < 1.0:  # keep thin poles visible: a 1-px line
        cv.lines([cam.project([u, u], [0, h], z)], color, label, 1)
    else:
        cv.polygon(poly, color, label)
    if h > 6 and rng.random() < 0.7:  # street-light arm over the road
        cv.polygon(
            lateral_rect(cam, u, u + toward_road * rng.uniform(1.0, 3.0), h - 0.15, h, z),
            color,
            label,
        )
    if rng.random() < 0.55:
        draw_sign(
            cv, cam, rng, u + toward_road * (pw / 2 + 0.01), rng.uniform(2.0, min(h, 3.2)), z - 0.05
        )
    if rng.random() < 0.15:
        draw_traffic_light(cv, cam, rng, u, min(h, rng.uniform(2.6, 4.0)), z - 0.1)


def draw_sign(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, y: float, z: float) -> None:
    label = TRAIN_ID["traffic sign"]
    shape = SIGN_SHAPES[rng.integers(len(SIGN_SHAPES))]
    s = rng.uniform(0.5, 0.9)
    scheme = rng.integers(4)
    outer, inner = [
        ((200, 30, 35), (235, 235, 235)),
        ((30, 70, 170), (30, 70, 170)),
        ((235, 235, 235), (230, 190, 40)),
        ((30, 30, 30), (235, 235, 235)),
    ][scheme]
    outer_rgb, inner_rgb = colors.jitter(rng, outer, 10), colors.jitter(rng, inner, 10)
    ppm = cam.pixels_per_metre(z)
    c = cam.project(u, y, z)
    r = s / 2 * ppm
    if shape == "circle":
        cv.ellipse(c, (r, r), outer_rgb, label)
        cv.ellipse(c, (0.75 * r, 0.75 * r), inner_rgb, None)
        return
    if shape == "triangle":
        base = np.array([[0, -1], [0.95, 0.65], [-0.95, 0.65]])
    elif shape == "diamond":
        base = np.array([[0, -1], [1, 0], [0, 1], [-1, 0]])
    elif shape == "square":
        base = np.array([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]])
    else:
        base = np.array([[-1.4, -0.5], [1.4, -0.5], [1.4, 0.5], [-1.4, 0.5]])
    cv.polygon(c + base * r, outer_rgb, label)
    cv.polygon(c + base * r * 0.72, inner_rgb, None)


def draw_traffic_light(cv: Canvas, cam: RoadCamera, rng: Rng, u: float, y: float, z: float) -> None:
    label = TRAIN_ID["traffic light"]
    body = colors.grey(rng, 20, 60, 3) if rng.random() < 0.7 else colors.jitter(rng, (200, 170, 40))
    cv.polygon(lateral_rect(cam, u - 0.17, u + 0.17, y, y + 0.9, z), body, label)
    ppm = cam.pixels_per_metre(z)
    lit = rng.integers(3)
    for i, col in enumerate(((220, 40, 30), (230, 170, 30), (40, 200, 80))):
        c = cam.project(u, y + 0.75 - 0.3 * i, z - 0.01)
        cv.ellipse(c, (0.1 * ppm, 0.1 * ppm), col if i == lit else colors.shade(col, 0.3), label)


# ---------------------------------------------------------------------------------- buildings


class Building:
    """A block with its facade at lateral position u (side -1 left, +1 right of the road), from
    depth z0 to z1: a front face at z0 and a facade with windows and floor bands.

    The facade is drawn in depth segments (`facade(cv, za, zb)`) so that painting far to near
    keeps the occlusion order with things standing in front of a long block."""

    def __init__(
        self, cam: RoadCamera, rng: Rng, u: float, side: int, z0: float, z1: float, light: float
    ):
        self.cam, self.u, self.side, self.z0, self.z1, self.light = cam, u, side, z0, z1, light
        self.h = rng.uniform(4.0, 30.0)
        self.base = colors.building(rng)
        self.facade_col = colors.shade(self.base, light)
        self.shop = colors.shade(colors.building(rng), light) if rng.random() < 0.3 else None
        sz, sy = rng.uniform(2.4, 4.5), rng.uniform(2.8, 3.6)
        fz, fy = rng.uniform(0.35, 0.75), rng.uniform(0.35, 0.7)
        self.win_w, self.win_h = sz * fz, sy * fy
        self.win_z = np.arange(z0 + 0.6, z1 - self.win_w, sz)
        self.win_y = np.arange(rng.uniform(1.0, 3.5), self.h - self.win_h - 0.3, sy)
        self.glass = (
            colors.grey(rng, 25, 120, 10)
            if rng.random() < 0.6
            else colors.jitter(rng, (110, 140, 170))
        )
        self.lit_col = colors.shade(self.glass, rng.uniform(1.3, 2.0))
        self.lit = rng.random((len(self.win_z), len(self.win_y))) < 0.15  # lit windows
        self.bands = (
            colors.shade(self.facade_col, rng.uniform(0.7, 1.25)) if rng.random() < 0.4 else None
        )

    def front(self, cv: Canvas) -> None:
        u, d = self.u, self.side * 15.0
        rect = lateral_rect(self.cam, min(u, u + d), max(u, u + d), 0, self.h, self.z0)
        cv.polygon(rect, colors.shade(self.base, 1.6 - self.light), TRAIN_ID["building"])

    def facade(self, cv: Canvas, za: float, zb: float) -> None:
        cam, u = self.cam, self.u
        n = max(2, int((zb - za) / 4) + 2) if cam.curve else 2
        cv.polygon(side_rect(cam, u, 0, self.h, za, zb, n), self.facade_col, TRAIN_ID["building"])
        if self.shop is not None:
            cv.polygon(side_rect(cam, u, 0, 3.2, za, zb, n), self.shop, None)
        if self.bands is not None:
            bands = [side_rect(cam, u, y - 0.25, y, za, zb, n) for y in self.win_y]
            cv.polygons(bands, self.bands, None)
        sel = (self.win_z >= za) & (self.win_z < zb)
        if not sel.any() or len(self.win_y) == 0:
            return
        zz, yy = np.meshgrid(self.win_z[sel], self.win_y, indexing="ij")
        z_a, y_a = zz.ravel(), yy.ravel()
        z_b, y_b = z_a + self.win_w, y_a + self.win_h
        quads = np.stack(
            [
                cam.project(u, y_a, z_a),
                cam.project(u, y_a, z_b),
                cam.project(u, y_b, z_b),
                cam.project(u, y_b, z_a),
            ],
            axis=1,
        )  # [N, 4, 2]
        keep = np.abs(quads[:, 1, 0] - quads[:, 0, 0]) > 0.7
        lit = self.lit[sel].ravel()
        cv.polygons(list(quads[keep & ~lit]), self.glass, None)
        cv.polygons(list(quads[keep & lit]), self.lit_col, None)


def draw_wall(
    cv: Canvas,
    cam: RoadCamera,
    u: float,
    z0: float,
    z1: float,
    kind: str,
    h: float,
    color: np.ndarray,
) -> None:
    """A segment (z0..z1) of a wall or a fence parallel to the road."""
    n = max(2, int((z1 - z0) / 4) + 2) if cam.curve else 2
    if kind == "wall":
        cv.polygon(side_rect(cam, u, 0, h, z0, z1, n), color, TRAIN_ID["wall"])
        return
    label = TRAIN_ID["fence"]
    cv.polygon(side_rect(cam, u, 0, h, z0, z1, n), colors.shade(color, 0.8), label)
    posts = [lateral_rect(cam, u - 0.05, u + 0.05, 0, h + 0.1, zp) for zp in np.arange(z0, z1, 2.0)]
    cv.polygons(posts, color, label)
    rails = [cam.project(u, y, np.linspace(z0, z1, n)) for y in (h * 0.3, h * 0.95)]
    cv.lines(rails, colors.shade(color, 1.25), None, 1)
