"""Procedural road scenes with dense Cityscapes trainIds, deterministic per seed (numpy + OpenCV).

`generate_scene(seed, height, width)` draws a street seen from a car: a perspective road (lanes,
markings, crossings, patches, possibly curving), curbs and sidewalks, terrain, facades with
windows, walls and fences, trees and hedges, poles with signs and traffic lights, vehicles and
pedestrians at perspective-consistent sizes painted far to near, under a random sky, sun
(cast shadows), haze, exposure, colour cast, blur and sensor noise. Camera focal length,
height, pitch (horizon row) and yaw vary. Colour palettes overlap across classes, so the
classes are not separable by colour alone. Void (255) marks the ego vehicle's bonnet when one
is visible. Evaluation tools call `generate_scene`: keep its name and signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import cv2
import numpy as np

from dense_ood_train.data import synth_colors as colors
from dense_ood_train.data import synth_objects as obj
from dense_ood_train.data.canvas import Canvas
from dense_ood_train.data.image_io import DatasetError
from dense_ood_train.data.labels import IGNORE_INDEX, NUM_CLASSES, TRAIN_ID
from dense_ood_train.data.synth_objects import RoadCamera

Rng = np.random.Generator
T = TypeVar("T")
Z_FAR = 400.0  # ground drawn up to here (m)
Z_OBJECTS = 140.0  # no objects placed beyond this depth (m)

# Per-class texture amplitudes (grey levels): fine grain, mid-scale blotches.
_GRAIN = np.zeros(256, np.float32)
_BLOTCH = np.zeros(256, np.float32)
for _name, _g, _b in [
    ("road", 7, 9),
    ("sidewalk", 8, 8),
    ("building", 5, 8),
    ("wall", 7, 10),
    ("fence", 6, 6),
    ("pole", 3, 3),
    ("traffic light", 2, 2),
    ("traffic sign", 2, 2),
    ("vegetation", 18, 22),
    ("terrain", 14, 16),
    ("sky", 1.5, 3),
    ("person", 4, 5),
    ("car", 3, 4),
    ("truck", 4, 6),
    ("bus", 3, 4),
]:
    _GRAIN[TRAIN_ID[_name]], _BLOTCH[TRAIN_ID[_name]] = _g, _b
_GRAIN[IGNORE_INDEX], _BLOTCH[IGNORE_INDEX] = 4, 4


@dataclass
class RoadLayout:
    """Lateral layout of the street in metres (road coordinates, see synth_objects)."""

    road_left: float
    road_right: float
    lane_width: float
    lanes: int
    sidewalk: tuple[float, float]  # widths left, right (0 = none)
    margin: tuple[str, str]  # what lines the street: buildings | trees | wall | fence | open
    setback: tuple[float, float]  # terrain strip between sidewalk and the margin objects
    parking: tuple[bool, bool]


@dataclass
class SceneRender:
    """A rendered scene and what later stages (anomaly pasting) need to know about it."""

    rgb: np.ndarray
    train_ids: np.ndarray
    camera: RoadCamera
    layout: RoadLayout
    shadow: float  # darkening factor of cast shadows in this scene
    lighting: dict = field(default_factory=dict)


def generate_scene(seed: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: (rgb uint8 [height, width, 3], train_ids uint8 [height, width], 255 = void)."""
    scene = render_scene(seed, height, width)
    return scene.rgb, scene.train_ids


def render_scene(seed: int, height: int, width: int, finish: bool = True) -> SceneRender:
    """Like `generate_scene`, keeping the camera and layout; `finish=False` skips the
    photometric finish (texture, haze, exposure, noise) so that callers can paste objects
    first and then call `finish_scene`."""
    if height < 8 or width < 8:
        raise DatasetError(f"scene size must be at least 8x8, got {height}x{width}")
    rng = np.random.default_rng(int(seed))
    # one stream per stage: a stage whose draws depend on the image size cannot shift the others
    stages = [np.random.default_rng(s) for s in rng.integers(2**63, size=6)]
    cam = _random_camera(stages[0], height, width)
    layout, cam_u = _random_layout(stages[0])
    cam = replace(cam, cam_u=cam_u)
    shadow = float(stages[0].uniform(0.45, 0.8))
    sun_side = int(stages[0].choice([-1, 1]))
    cv = Canvas(height, width, fill_label=TRAIN_ID["sky"])
    _draw_sky(cv, cam, stages[1])
    _draw_far_background(cv, cam, stages[2])
    _draw_ground(cv, cam, stages[3], layout)
    _draw_objects(cv, cam, stages[4], layout, shadow, sun_side)
    _draw_bonnet(cv, cam, stages[5])
    scene = SceneRender(cv.rgb, cv.label, cam, layout, shadow)
    scene.lighting = _random_lighting(stages[5])
    if finish:
        finish_scene(scene, seed)
    return scene


def finish_scene(scene: SceneRender, seed: int) -> None:
    """Apply texture, haze, exposure, colour cast, blur and noise in place (deterministic)."""
    rng = np.random.default_rng([int(seed), 7])
    scene.rgb = _finish(scene.rgb, scene.train_ids, scene.camera, rng, scene.lighting)


# ------------------------------------------------------------------------------ camera, layout


def _random_camera(rng: Rng, height: int, width: int) -> RoadCamera:
    return RoadCamera(
        height=height,
        width=width,
        focal=width * rng.uniform(0.6, 1.15),
        horizon=height * rng.uniform(0.3, 0.52),
        center_x=width * (0.5 + rng.uniform(-0.08, 0.08)),
        cam_height=rng.uniform(1.1, 1.9),
        cam_u=0.0,  # set by the layout below
        curve=rng.uniform(-0.004, 0.004) if rng.random() < 0.6 else 0.0,
    )


def _pair(make: Callable[[], T]) -> tuple[T, T]:
    """Two draws, left then right: the order in which the random stream is consumed."""
    left = make()
    return left, make()


def _random_layout(rng: Rng) -> tuple[RoadLayout, float]:
    """The street's lateral layout and the camera's lateral position (in a right-hand lane)."""
    lanes = int(rng.choice([1, 2, 2, 2, 3, 4]))
    lane_w = rng.uniform(2.8, 3.8)
    parking = (bool(rng.random() < 0.3), bool(rng.random() < 0.35))
    half = lanes * lane_w / 2
    left = -half - 2.3 * parking[0]
    right = half + 2.3 * parking[1]
    own_lane = rng.integers(lanes // 2, lanes) if lanes > 1 else 0
    cam_u = -half + lane_w * (own_lane + 0.5) + rng.normal(0, 0.3)
    sidewalk = _pair(lambda: float(rng.uniform(1.5, 5.0)) if rng.random() < 0.85 else 0.0)
    kinds = ["buildings", "trees", "wall", "fence", "open"]
    p = [0.5, 0.2, 0.1, 0.1, 0.1]
    margin = _pair(lambda: kinds[rng.choice(5, p=p)])
    setback = _pair(lambda: float(rng.uniform(0, 6)) if rng.random() < 0.4 else 0.0)
    return RoadLayout(left, right, lane_w, lanes, sidewalk, margin, setback, parking), float(cam_u)


def _random_lighting(rng: Rng) -> dict:
    return {
        "brightness": float(rng.uniform(0.6, 1.3)),
        "cast": (1.0 + rng.uniform(-0.1, 0.1, 3)).tolist(),
        "gamma": float(rng.uniform(0.8, 1.25)),
        "haze": float(rng.uniform(0.0, 0.5) if rng.random() < 0.6 else 0.0),
        "blur": float(rng.uniform(0.3, 0.9) if rng.random() < 0.5 else 0.0),
        "noise": float(rng.uniform(1.0, 5.0)),
        "vignette": float(rng.uniform(0.0, 0.3) if rng.random() < 0.3 else 0.0),
    }


# ------------------------------------------------------------------------------ background


def _draw_sky(cv: Canvas, cam: RoadCamera, rng: Rng) -> None:
    top, bottom = colors.sky(rng)
    rows = np.clip(np.arange(cv.height, dtype=np.float32) / max(cam.horizon, 1.0), 0, 1)[:, None]
    grad = top[None, :] * (1 - rows) + bottom[None, :] * rows  # [H, 3]
    sky = np.broadcast_to(grad[:, None, :], (cv.height, cv.width, 3)).astype(np.float32)
    if rng.random() < 0.6:  # clouds: thresholded low-frequency noise blended towards white/grey
        small = rng.random((max(2, cv.height // 24), max(2, cv.width // 24))).astype(np.float32)
        clouds = cv2.resize(small, (cv.width, cv.height), interpolation=cv2.INTER_CUBIC)
        amount = np.clip((clouds - rng.uniform(0.4, 0.7)) * 3, 0, 1)[..., None] * rng.uniform(
            0.4, 0.9
        )
        sky = sky * (1 - amount) + colors.grey(rng, 170, 250, 4)[None, None, :] * amount
    cv.rgb[:] = np.clip(sky, 0, 255).astype(np.uint8)


def _draw_far_background(cv: Canvas, cam: RoadCamera, rng: Rng) -> None:
    """Distant skyline or tree line straddling the horizon, so sky is not 'everything above it'."""
    ppm = cam.pixels_per_metre(Z_FAR * 0.5)
    x = -5.0
    kind = rng.choice(["city", "trees", "mixed", "none"], p=[0.35, 0.3, 0.25, 0.1])
    if kind == "none":
        return
    haze_col = colors.shade(colors.building(rng), 0.9)
    leaf = colors.shade(colors.vegetation(rng), 0.85)
    base = cam.horizon + cam.cam_height * ppm
    while x < cv.width + 5:
        w = rng.uniform(8, 40) * ppm
        tree = kind == "trees" or (kind == "mixed" and rng.random() < 0.5)
        h = rng.uniform(4, 12 if tree else 45) * ppm
        if tree:
            for _ in range(int(max(1.0, w / h) * 2)):
                cx = x + rng.uniform(0, w)
                r = h * rng.uniform(0.4, 0.8)
                cv.ellipse(
                    (cx, base - h * 0.6),
                    (r, r),
                    colors.jitter(rng, leaf, 8),
                    TRAIN_ID["vegetation"],
                )
            cv.polygon(
                np.array([[x, base], [x + w, base], [x + w, base - h * 0.5], [x, base - h * 0.5]]),
                colors.jitter(rng, leaf, 8),
                TRAIN_ID["vegetation"],
            )
        elif rng.random() < 0.85:
            col = colors.jitter(rng, haze_col, 15)
            cv.polygon(
                np.array([[x, base], [x + w, base], [x + w, base - h], [x, base - h]]),
                col,
                TRAIN_ID["building"],
            )
        x += w


def _draw_ground(cv: Canvas, cam: RoadCamera, rng: Rng, lay: RoadLayout) -> None:
    band = obj.ground_band
    terrain_id, sidewalk_id, road_id = TRAIN_ID["terrain"], TRAIN_ID["sidewalk"], TRAIN_ID["road"]
    cv.polygon(band(cam, -300, 300, 0.2, Z_FAR), colors.terrain(rng), terrain_id)
    for side, edge in ((0, lay.road_left), (1, lay.road_right)):
        sgn = -1 if side == 0 else 1
        if rng.random() < 0.5:  # the terrain beyond differs from the far field
            outer = edge + sgn * (lay.sidewalk[side] + lay.setback[side])
            cv.polygon(
                band(cam, outer, outer + sgn * 300, 0.2, Z_FAR), colors.terrain(rng), terrain_id
            )
        sw = lay.sidewalk[side]
        if sw > 0:
            sw_col = colors.sidewalk(rng)
            cv.polygon(band(cam, edge, edge + sgn * sw, 0.2, Z_FAR), sw_col, sidewalk_id)
            _draw_paving(cv, cam, rng, edge, edge + sgn * sw, sw_col)
            curb = colors.shade(sw_col, rng.uniform(0.75, 1.3))
            cv.polygon(band(cam, edge, edge + sgn * 0.18, 0.2, Z_FAR), curb, sidewalk_id)
    road_col = colors.road(rng)
    cv.polygon(band(cam, lay.road_left, lay.road_right, 0.2, Z_FAR, 40), road_col, road_id)
    _draw_road_patches(cv, cam, rng, lay, road_col)
    _draw_markings(cv, cam, rng, lay)


def _draw_paving(
    cv: Canvas, cam: RoadCamera, rng: Rng, u0: float, u1: float, col: np.ndarray
) -> None:
    if rng.random() < 0.4:
        return
    step = rng.uniform(0.5, 1.5)
    zs = np.arange(1.0, 60.0, step)
    lines = [cam.project([u0, u1], 0.0, [z, z]) for z in zs]
    lines = [ln for ln in lines if abs(ln[1, 0] - ln[0, 0]) > 3]
    cv.lines(lines, colors.shade(col, rng.uniform(0.75, 0.9)), None, 1)


def _draw_road_patches(
    cv: Canvas, cam: RoadCamera, rng: Rng, lay: RoadLayout, col: np.ndarray
) -> None:
    patches = []
    for _ in range(rng.poisson(2.0)):
        u = rng.uniform(lay.road_left, lay.road_right)
        z = rng.uniform(3, 60)
        w, length = rng.uniform(0.5, 4), rng.uniform(0.5, 8)
        patches.append(obj.ground_band(cam, u - w / 2, u + w / 2, z, z + length, 4))
    cv.polygons(patches, colors.shade(col, rng.uniform(0.7, 1.3)), None)
    if rng.random() < 0.3:  # a wet or oily darker band along the lane centre
        u = cam.cam_u + rng.normal(0, 0.5)
        cv.polygon(obj.ground_band(cam, u - 0.4, u + 0.4, 1, 120), colors.shade(col, 0.85), None)


def _draw_markings(cv: Canvas, cam: RoadCamera, rng: Rng, lay: RoadLayout) -> None:
    """Lane lines (dashed or solid, white or yellow), edge lines, sometimes a zebra crossing."""
    white = colors.grey(rng, 170, 235, 4)
    yellow = colors.jitter(rng, (215, 180, 60), 10)
    half = lay.lanes * lay.lane_width / 2
    bounds = [-half + i * lay.lane_width for i in range(1, lay.lanes)]
    dash, gap = rng.uniform(2, 4), rng.uniform(4, 9)
    phase = rng.uniform(0, dash + gap)
    polys_w: list[np.ndarray] = []
    polys_y: list[np.ndarray] = []
    centre_yellow = rng.random() < 0.25
    for b in bounds:
        solid = abs(b) < 0.5 and rng.random() < 0.4
        target = polys_y if centre_yellow and abs(b) < 0.5 else polys_w
        if solid:
            target.append(obj.ground_band(cam, b - 0.08, b + 0.08, 0.5, 200, 30))
            continue
        for z in np.arange(phase, 150, dash + gap):
            target.append(obj.ground_band(cam, b - 0.07, b + 0.07, z, z + dash, 3))
    if rng.random() < 0.7:
        for e, s in ((lay.road_left, 1), (lay.road_right, -1)):
            polys_w.append(obj.ground_band(cam, e + s * 0.2, e + s * 0.35, 0.5, 200, 30))
    if rng.random() < 0.2:
        z = rng.uniform(7, 30)
        length = rng.uniform(2.5, 4.5)
        for u in np.arange(lay.road_left + 0.5, lay.road_right - 0.5, 1.0):
            polys_w.append(obj.ground_band(cam, u, u + 0.5, z, z + length, 3))
    cv.polygons(polys_w, white, None)
    cv.polygons(polys_y, yellow, None)


# ------------------------------------------------------------------------------ objects


def _draw_objects(
    cv: Canvas, cam: RoadCamera, rng: Rng, lay: RoadLayout, shadow: float, sun_side: int
) -> None:
    """Collect every object with its depth, then paint from far to near."""
    items: list[tuple[float, int, Callable[[Canvas], None]]] = []
    sun = float(rng.uniform(0.2, 1.2)) if rng.random() < 0.5 else 0.0  # shadow length per metre

    def add(z: float, fn) -> None:
        items.append((z, len(items), fn))

    z_start = max(cam.depth_of_row(cam.height) * 0.5, 1.0)
    for side, edge in ((0, lay.road_left), (1, lay.road_right)):
        sgn = -1 if side == 0 else 1
        sw = lay.sidewalk[side]
        line = edge + sgn * (sw + lay.setback[side])
        _plan_margin(add, cam, rng, lay.margin[side], line, sgn, z_start, sun_side, shadow, sun)
        _plan_street_furniture(add, cam, rng, edge, sw, sgn, z_start)
        _plan_people_on_sidewalk(add, cam, rng, edge, sw, sgn, shadow)
        if lay.parking[side]:
            _plan_parked(add, cam, rng, edge - sgn * 1.15, shadow)
    _plan_traffic(add, cam, rng, lay, shadow)
    for _, _, fn in sorted(items, key=lambda it: (-it[0], it[1])):
        fn(cv)


SEGMENT = 5.0  # metres: long things along the road are painted in segments of this length


def _segments(z0: float, z1: float):
    """Depth segments (za, zb) covering z0..z1, SEGMENT long (longer far away)."""
    za = z0
    while za < z1:
        zb = min(z1, za + max(SEGMENT, za * 0.15))
        yield za, zb
        za = zb


def _plan_ground_shadow(add, cam: RoadCamera, b: obj.Building, sun: float, shadow: float) -> None:
    """The block's cast shadow on the ground: a band from its facade towards the road, as wide
    as its height times `sun` (low sun: long shadows), painted just before nearer things."""
    width = b.h * sun
    u0, u1 = sorted((b.u, b.u - b.side * width))

    def paint(cv: Canvas) -> None:
        cv.shade_polygons([obj.ground_band(cam, u0, u1, b.z0, b.z1, 8)], shadow)

    add(b.z1 + 1e-3, paint)


def _plan_margin(add, cam, rng, kind, line, sgn, z_start, sun_side, shadow, sun) -> None:
    """What lines the street beyond the sidewalk. Long things are added per depth segment,
    keyed by the segment's far end: anything standing nearer is painted over them."""
    if kind == "buildings":
        z = rng.uniform(z_start - 5, z_start + 10)
        light = 1.0 if sgn == sun_side else rng.uniform(0.6, 0.85)
        while z < 220:
            length = rng.uniform(8, 40)
            if rng.random() < 0.85:
                sub = np.random.default_rng(rng.integers(2**63))
                b = obj.Building(
                    cam, sub, line + sgn * rng.uniform(0, 1.5), sgn, z, z + length, light
                )
                add(z, b.front)
                if sun and sgn != sun_side:  # its shadow falls across the street
                    _plan_ground_shadow(add, cam, b, sun, shadow)
                for za, zb in _segments(z, z + length):
                    add(zb, lambda cv, b=b, za=za, zb=zb: b.facade(cv, za, zb))
            z += length + (rng.uniform(2, 15) if rng.random() < 0.3 else 0)
        return
    if kind in ("wall", "fence"):
        h = rng.uniform(0.8, 3.0) if kind == "wall" else rng.uniform(0.9, 2.2)
        col = colors.wall(rng) if kind == "wall" else colors.fence(rng)
        for za, zb in _segments(rng.uniform(z_start - 3, 15), Z_OBJECTS * 1.5):
            add(zb, lambda cv, za=za, zb=zb: obj.draw_wall(cv, cam, line, za, zb, kind, h, col))
        if rng.random() < 0.5:
            _plan_trees(add, cam, rng, line + sgn * 2.0, sgn, z_start, spacing=(5, 12))
        return
    if kind == "trees":
        _plan_trees(add, cam, rng, line + sgn * 1.0, sgn, z_start, spacing=(3, 9))
        if rng.random() < 0.5:
            leaf, h = colors.vegetation(rng), rng.uniform(0.5, 1.6)
            for za, zb in _segments(rng.uniform(z_start - 3, 20), Z_OBJECTS):
                add(zb, lambda cv, za=za, zb=zb: obj.draw_hedge(cv, cam, line, za, zb, h, leaf))
        return
    # open: a few trees far apart
    _plan_trees(add, cam, rng, line + sgn * 4.0, sgn, z_start, spacing=(15, 40))


def _plan_trees(add, cam, rng, u_line, sgn, z_start, spacing) -> None:
    leaf = colors.vegetation(rng)
    z = rng.uniform(z_start, z_start + spacing[1])
    while z < Z_OBJECTS:
        u = u_line + sgn * rng.uniform(0, 3)
        sub = np.random.default_rng(rng.integers(2**63))
        add(z, lambda cv, u=u, z=z, sub=sub: obj.draw_tree(cv, cam, sub, u, z, leaf))
        z += rng.uniform(*spacing)


def _plan_street_furniture(add, cam, rng, edge, sw, sgn, z_start) -> None:
    z = rng.uniform(z_start, z_start + 25)
    u = edge + sgn * (min(sw, 1.0) * 0.5 + 0.2)
    while z < Z_OBJECTS * 0.8:
        sub = np.random.default_rng(rng.integers(2**63))
        add(z, lambda cv, z=z, sub=sub: obj.draw_pole(cv, cam, sub, u, z, -sgn))
        if rng.random() < 0.2:  # a standalone sign post
            zs = z + rng.uniform(3, 10)
            sub2 = np.random.default_rng(rng.integers(2**63))

            def post(cv, zs=zs, sub2=sub2) -> None:
                cv.polygon(
                    obj.lateral_rect(cam, u - 0.04, u + 0.04, 0, 2.2, zs),
                    colors.pole(sub2),
                    TRAIN_ID["pole"],
                )
                obj.draw_sign(cv, cam, sub2, u, 2.2, zs - 0.02)

            add(zs, post)
        z += rng.uniform(12, 40)


def _plan_people_on_sidewalk(add, cam, rng, edge, sw, sgn, shadow) -> None:
    if sw <= 0:
        return
    for _ in range(rng.poisson(1.8)):
        z = rng.uniform(3, 60)
        u = edge + sgn * rng.uniform(0.4, max(sw - 0.3, 0.5))
        sub = np.random.default_rng(rng.integers(2**63))
        add(z, lambda cv, u=u, z=z, sub=sub: obj.draw_person(cv, cam, sub, u, z, shadow))


def _plan_parked(add, cam, rng, u, shadow) -> None:
    z = rng.uniform(2, 12)
    while z < 90:
        if rng.random() < 0.75:
            kind = "car" if rng.random() < 0.85 else "van"
            sub = np.random.default_rng(rng.integers(2**63))
            away = bool(rng.random() < 0.7)
            add(
                z,
                lambda cv, z=z, kind=kind, sub=sub, away=away: obj.draw_vehicle(
                    cv, cam, sub, kind, u + sub.normal(0, 0.1), z, away, shadow
                ),
            )
        z += rng.uniform(5.5, 8)


def _plan_traffic(add, cam, rng, lay: RoadLayout, shadow: float) -> None:
    half = lay.lanes * lay.lane_width / 2
    for lane in range(lay.lanes):
        centre = -half + lay.lane_width * (lane + 0.5)
        away = centre > 0 or lay.lanes == 1
        own = abs(centre - cam.cam_u) < lay.lane_width / 2
        z = rng.uniform(6 if own else 2, 30)
        for _ in range(rng.poisson(1.6)):
            if z > Z_OBJECTS:
                break
            kind = rng.choice(["car", "van", "truck", "bus"], p=[0.72, 0.12, 0.09, 0.07])
            sub = np.random.default_rng(rng.integers(2**63))
            u = centre + rng.normal(0, 0.25)
            add(
                z,
                lambda cv, z=z, kind=kind, sub=sub, u=u, away=away: obj.draw_vehicle(
                    cv, cam, sub, kind, u, z, away, shadow
                ),
            )
            z += rng.uniform(14, 45)
    if rng.random() < 0.2:  # pedestrians crossing
        z = rng.uniform(8, 35)
        for _ in range(rng.integers(1, 4)):
            u = rng.uniform(lay.road_left + 0.5, lay.road_right - 0.5)
            sub = np.random.default_rng(rng.integers(2**63))
            zz = z + rng.uniform(-0.5, 0.5)
            add(zz, lambda cv, u=u, zz=zz, sub=sub: obj.draw_person(cv, cam, sub, u, zz, shadow))


def _draw_bonnet(cv: Canvas, cam: RoadCamera, rng: Rng) -> None:
    """The ego vehicle's bonnet at the bottom (void, as in Cityscapes), in some scenes."""
    if rng.random() > 0.3:
        return
    h = cv.height * rng.uniform(0.04, 0.12)
    col = colors.vehicle(rng)
    cv.ellipse(
        (cv.width * 0.5, cv.height + h * 0.6),
        (cv.width * rng.uniform(0.6, 0.9), h * 1.6),
        col,
        IGNORE_INDEX,
    )


# ------------------------------------------------------------------------------ photometric finish


def _noise_field(rng: Rng, height: int, width: int, cell: float) -> np.ndarray:
    gh, gw = max(2, int(height / cell) + 1), max(2, int(width / cell) + 1)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _finish(
    rgb: np.ndarray, label: np.ndarray, cam: RoadCamera, rng: Rng, light: dict
) -> np.ndarray:
    h, w = label.shape
    scale = max(1.0, w / 256.0)  # texture cells and blur in pixels grow with resolution
    img = rgb.astype(np.float32)
    grain = rng.standard_normal((h, w)).astype(np.float32) * _GRAIN[label]
    blotch = _noise_field(rng, h, w, 4 * scale) * _BLOTCH[label]
    img += (grain + blotch)[..., None]
    veg = label == TRAIN_ID["vegetation"]
    if veg.any():  # leaves: chromatic mid-scale variation
        tint = _noise_field(rng, h, w, 2 * scale)[veg]
        img[veg] += tint[:, None] * np.array([6, 12, 4], np.float32)
    illum = 1.0 + 0.08 * _noise_field(rng, h, w, 48 * scale)
    img *= illum[..., None]
    if light["haze"] > 0:
        rows = np.arange(h, dtype=np.float32)
        dist = np.abs(rows - cam.horizon) / (0.15 * h)
        weight = (light["haze"] * np.exp(-dist))[:, None, None] * (label != TRAIN_ID["sky"])[
            ..., None
        ]
        haze_col = np.float32(rng.uniform(170, 230)) + rng.normal(0, 5, 3).astype(np.float32)
        img = img * (1 - weight) + haze_col * weight
    if light["vignette"] > 0:
        yy, xx = np.ogrid[:h, :w]
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        img *= (1 - light["vignette"] * r2 / 2).astype(np.float32)[..., None]
    img *= np.float32(light["brightness"]) * np.asarray(light["cast"], np.float32)
    img = 255.0 * np.power(np.clip(img / 255.0, 0, 1), np.float32(light["gamma"]))
    if light["blur"] > 0:
        img = cv2.GaussianBlur(img, (0, 0), light["blur"] * scale)
    img += rng.standard_normal(img.shape).astype(np.float32) * np.float32(light["noise"])
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------ dataset


class SynthRoadDataset:
    """`num_scenes` scenes with seeds seed_offset .. seed_offset + num_scenes - 1.

    Items are (rgb uint8 [H, W, 3], train_ids uint8 [H, W]) before `transform(image, label)`.
    A torch `Dataset` by duck typing (len + getitem), usable with DataLoader.
    """

    num_classes = NUM_CLASSES

    def __init__(
        self, num_scenes: int, height: int, width: int, seed_offset: int = 0, transform=None
    ) -> None:
        if num_scenes < 1:
            raise DatasetError(f"num_scenes must be positive, got {num_scenes}")
        self.num_scenes = int(num_scenes)
        self.height, self.width = int(height), int(width)
        self.seed_offset = int(seed_offset)
        self.transform = transform

    def __len__(self) -> int:
        return self.num_scenes

    def __getitem__(self, index: int):
        if not -self.num_scenes <= index < self.num_scenes:
            raise IndexError(index)
        index %= self.num_scenes
        image, label = generate_scene(self.seed_offset + index, self.height, self.width)
        if self.transform is not None:
            return self.transform(image, label)
        return image, label
