"""Write synthroad training scenes as PNG pictures: inlier frames for INT8 calibration.

Scenes are those of training (seeds FIRST .. FIRST+COUNT-1; training uses seeds 0 up to
data.num_scenes), never the validation or test frames of synthroad-ood, so calibrating on
them leaks nothing into the reported metrics. Use them with
`dense-ood quantize MODEL --calibration-dir DIR`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import check_output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, help="folder to write scene_<seed>.png into")
    parser.add_argument("--count", type=int, default=64, help="number of scenes")
    parser.add_argument("--first", type=int, default=0, help="seed of the first scene")
    parser.add_argument("--height", type=int, default=256, help="scene height (a camera's)")
    parser.add_argument("--width", type=int, default=512, help="scene width")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")


def run(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from dense_ood_train.data.synthroad import generate_scene

    if args.count < 1 or args.height < 16 or args.width < 16:
        raise CommandError("--count must be >= 1 and --height/--width >= 16")
    check_output_folder(args.output, args.overwrite)
    args.output.mkdir(parents=True, exist_ok=True)
    seeds = range(args.first, args.first + args.count)
    for seed in tqdm(seeds, desc="scenes", unit="scene", disable=None):
        rgb, _ = generate_scene(seed, args.height, args.width)
        cv2.imwrite(
            str(args.output / f"scene_{seed:05d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        )
    print(f"wrote {args.count} scenes of {args.height}x{args.width} to {args.output}")
    return 0
