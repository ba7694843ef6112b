"""synthroad-ood: synthroad scenes with anomalous objects on the road and beside it.

Each frame is the synthroad scene of one seed with 1-3 objects (animals, cardboard boxes,
tyres, mattresses, rocks, traffic cones; see anomaly_objects.py) standing on the ground: most
on the road, some on sidewalks or terrain, at depths from a few metres to ~80 m, so some are
only a few pixels tall. Objects are perspective-scaled by the scene's camera, cast contact
shadows, never stand behind a nearer car, person or pole, and get the scene's photometric
finish (haze, exposure, colour cast, blur, noise), so their edges and colours are not a give-away.

Labels: anomaly 1 on object pixels, 0 elsewhere, 255 where the scene itself is void (the ego
vehicle's bonnet); there is no void band around objects. Semantic labels are the scene's
trainIds with 255 under the objects (for inlier mIoU).

Seeds: training scenes use seeds in [0, 10**6) (TRAIN's validation scenes 10**7 + i);
split "test" uses scene seeds 2 * 10**9 + i and split "val" (for threshold calibration)
10**9 + i, so the three never meet. Frames are deterministic per (split, index, size).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dense_ood_ros.console.outputs import check_output_folder
from dense_ood_train.benchmarks.anomaly_objects import ANOMALY_KINDS, MAX_HEIGHT, draw_anomaly
from dense_ood_train.benchmarks.base import TRACKS, VOID, Benchmark, BenchmarkError, BenchmarkFrame
from dense_ood_train.data.canvas import Canvas
from dense_ood_train.data.image_io import write_label, write_rgb
from dense_ood_train.data.labels import IGNORE_INDEX, TRAIN_ID
from dense_ood_train.data.synthroad import SceneRender, finish_scene, render_scene

SPLIT_SEED_BASE = {"val": 1_000_000_000, "test": 2_000_000_000}
TRAINING_SEED_RANGE = (0, 10**6)
# things an object must not be painted over: they stand in front of it (objects are small and
# stand on visible ground, so buildings and, on the road, roadside vegetation are behind them)
_OCCLUDERS = np.zeros(256, dtype=bool)
for _name in (
    "car",
    "truck",
    "bus",
    "person",
    "rider",
    "pole",
    "traffic sign",
    "traffic light",
    "motorcycle",
    "bicycle",
):
    _OCCLUDERS[TRAIN_ID[_name]] = True
_OCCLUDERS[IGNORE_INDEX] = True
_OCCLUDERS_OFF_ROAD = _OCCLUDERS.copy()
for _name in ("fence", "wall", "vegetation"):
    _OCCLUDERS_OFF_ROAD[TRAIN_ID[_name]] = True
_GROUND = {TRAIN_ID["road"], TRAIN_ID["sidewalk"], TRAIN_ID["terrain"]}


def scene_seed(split: str, index: int) -> int:
    if split not in SPLIT_SEED_BASE:
        raise BenchmarkError(f"split must be one of {sorted(SPLIT_SEED_BASE)}, got {split!r}")
    return SPLIT_SEED_BASE[split] + int(index)


def generate_ood_frame(
    seed: int,
    height: int,
    width: int,
    objects: tuple[int, int] = (1, 3),
    kinds: tuple[str, ...] = ANOMALY_KINDS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb uint8 [H, W, 3], anomaly uint8 [H, W] 0/1/255, semantic trainIds uint8 [H, W])."""
    scene = render_scene(seed, height, width, finish=False)
    rng = np.random.default_rng([int(seed), 0x00D])
    anomaly = np.zeros((height, width), dtype=np.uint8)
    cv = Canvas.wrap(scene.rgb, anomaly)
    n = int(rng.integers(objects[0], objects[1] + 1))
    placed = 0
    for _ in range(60 + 20 * n):  # attempts; crowded roads need many
        if placed == n:
            break
        kind = kinds[int(rng.integers(len(kinds)))]
        spot = _pick_spot(scene, rng, kind)
        if spot is None:
            continue
        u, z, on_road = spot
        occluders = _OCCLUDERS if on_road else _OCCLUDERS_OFF_ROAD
        before = anomaly.copy()
        rgb_before = scene.rgb.copy()
        draw_anomaly(
            cv, scene.camera, np.random.default_rng(rng.integers(2**63)), kind, u, z, scene.shadow
        )
        new = (anomaly == 1) & (before == 0)
        if not new.any() or occluders[scene.train_ids[new]].any():  # behind something: undo
            anomaly[:] = before
            scene.rgb[:] = rgb_before
            continue
        placed += 1
    semantic = scene.train_ids.copy()
    semantic[anomaly == 1] = IGNORE_INDEX
    anomaly[(scene.train_ids == IGNORE_INDEX) & (anomaly == 0)] = VOID
    scene.train_ids = semantic  # the finish textures objects as void, not as the class below
    finish_scene(scene, seed)
    return scene.rgb, anomaly, semantic


def _pick_spot(
    scene: SceneRender, rng: np.random.Generator, kind: str
) -> tuple[float, float, bool] | None:
    """A ground point (u, z, on_road) on visible road (most of the time) or sidewalk / terrain."""
    cam, lay = scene.camera, scene.layout
    z_min = max(cam.depth_of_row(cam.height - 1) * 1.15, 2.5)
    far = rng.random() < 0.3
    z = (
        float(np.exp(rng.uniform(np.log(25.0), np.log(80.0))))
        if far
        else float(rng.uniform(z_min, 25.0))
    )
    z = max(z, z_min)
    on_road = rng.random() < 0.75
    if on_road:
        u = float(rng.uniform(lay.road_left + 0.4, lay.road_right - 0.4))
    else:
        side = int(rng.integers(2))
        edge = lay.road_left if side == 0 else lay.road_right
        sgn = -1 if side == 0 else 1
        u = edge + sgn * float(
            rng.uniform(0.3, max(lay.sidewalk[side] + lay.setback[side], 1.0) + 1.0)
        )
    x, y = cam.project(u, 0.0, z)
    xi, yi = round(float(x)), round(float(y))
    if not (0 <= xi < cam.width and 0 <= yi < cam.height):
        return None
    if int(scene.train_ids[yi, xi]) not in _GROUND:
        return None
    on_road = int(scene.train_ids[yi, xi]) == TRAIN_ID["road"]
    if MAX_HEIGHT[kind] * cam.pixels_per_metre(z) < 1.0:  # invisible
        return None
    return u, z, on_road


class SynthRoadOOD(Benchmark):
    """`num_frames` frames of a split ("test" or "val"), generated on access."""

    def __init__(
        self,
        split: str = "test",
        num_frames: int = 100,
        height: int = 128,
        width: int = 256,
        track: str | None = None,
        objects: tuple[int, int] = (1, 3),
        kinds: tuple[str, ...] = ANOMALY_KINDS,
    ) -> None:
        scene_seed(split, 0)  # validates the split
        if num_frames < 1:
            raise BenchmarkError(f"num_frames must be positive, got {num_frames}")
        if track is not None and track not in TRACKS:
            raise BenchmarkError(f"track must be one of {TRACKS} or None, got {track!r}")
        unknown = set(kinds) - set(ANOMALY_KINDS)
        if unknown or not kinds:
            raise BenchmarkError(
                f"unknown anomaly kinds {sorted(unknown)}; choose from {ANOMALY_KINDS}"
            )
        if not 1 <= objects[0] <= objects[1]:
            raise BenchmarkError(f"objects must be (min, max) with 1 <= min <= max, got {objects}")
        self.name = f"synthroad-ood-{split}"
        self.split = split
        self.num_frames = int(num_frames)
        self.height, self.width = int(height), int(width)
        self.track = track
        self.objects = (int(objects[0]), int(objects[1]))
        self.kinds = tuple(kinds)

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, index: int) -> BenchmarkFrame:
        if not 0 <= index < self.num_frames:
            raise IndexError(index)
        seed = scene_seed(self.split, index)
        rgb, anomaly, semantic = generate_ood_frame(
            seed, self.height, self.width, self.objects, self.kinds
        )
        return BenchmarkFrame(f"{self.split}_{index:06d}", rgb, anomaly, semantic)


def write_folder(
    benchmark: Benchmark, out_dir: str | Path, overwrite: bool = False, progress=None
) -> Path:
    """Write frames in the `folder` benchmark layout: images/, labels/ (0/1/255) and, where
    frames have them, semantic/ (trainIds), one PNG per frame named by the frame's name.

    Refuses to write into a non-empty folder unless `overwrite`. `progress` wraps the frame
    iterator (e.g. tqdm)."""
    out = check_output_folder(Path(out_dir), overwrite, option="output folder")
    for sub in ("images", "labels", "semantic"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    frames = progress(iter(benchmark), total=len(benchmark)) if progress else iter(benchmark)
    for frame in frames:
        write_rgb(out / "images" / f"{frame.name}.png", frame.image)
        if frame.anomaly is not None:
            write_label(out / "labels" / f"{frame.name}.png", frame.anomaly)
        if frame.semantic is not None:
            write_label(out / "semantic" / f"{frame.name}.png", frame.semantic)
    return out
