"""`dense-ood bench --cameras N...`: frames/s of N cameras through the node's pipeline, as one
batched engine call against one call per camera, timed interleaved."""

from __future__ import annotations

import argparse
import time

from dense_ood_ros.console.json_output import write_json
from dense_ood_ros.metrics.latency import summarize
from dense_ood_ros.tools.bench.common import synthetic_frame


def run(args: argparse.Namespace) -> int:
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline
    from dense_ood_ros.pipeline.obstacles import ObstacleSettings

    pipeline = Pipeline(
        load_engine(args.model, args.backend), args.threshold, output_size=args.output_size,
        obstacles=None if args.no_obstacles else ObstacleSettings(),
    )  # fmt: skip
    color, overlay = not args.no_color, not args.no_overlay
    rows = []
    for count in args.cameras:
        frames = [synthetic_frame(args.height, args.width, seed) for seed in range(count)]
        flags = [color] * count, [overlay] * count
        batched: list[float] = []
        single: list[float] = []
        for index in range(args.warmup + args.iterations):
            timings = []
            for batch in (True, False) if index % 2 else (False, True):
                start = time.perf_counter()
                if batch:
                    pipeline.process_batch(frames, *flags)
                else:
                    for frame in frames:
                        pipeline.process(frame, color=color, overlay=overlay)
                timings.append((batch, time.perf_counter() - start))
            if index >= args.warmup:
                for batch, seconds in timings:
                    (batched if batch else single).append(seconds)
        median_s = summarize(single, ("p50",))["p50"], summarize(batched, ("p50",))["p50"]
        rows.append((count, count / median_s[0], count / median_s[1]))
    print(f"{'cameras':>8}{'one by one fps':>16}{'batched fps':>14}{'ratio':>8}")
    for count, single_fps, batch_fps in rows:
        print(f"{count:>8}{single_fps:>16.1f}{batch_fps:>14.1f}{batch_fps / single_fps:>8.2f}")
    print(f"({args.height}x{args.width} frames, medians of {args.iterations} rounds, "
          f"outputs at the {args.output_size} size)")  # fmt: skip
    if args.json:
        table = [{"cameras": c, "one_by_one_fps": s, "batched_fps": b} for c, s, b in rows]
        write_json(args.json, table)
    return 0
