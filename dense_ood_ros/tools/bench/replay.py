"""`dense-ood bench --replay BAG...`: the bag replay's frames/s against engine-only frames/s on
the same frames (the replay's own report, its output discarded)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from dense_ood_ros.console.json_output import write_json


def run(args: argparse.Namespace) -> int:
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline
    from dense_ood_ros.replay.report import markdown, report_dict
    from dense_ood_ros.replay.session import ReplayOptions, ReplaySession

    with tempfile.TemporaryDirectory(prefix="dense_ood_bench_") as tmp:
        options = ReplayOptions(
            bags=args.replay,
            output=Path(tmp) / "replay",
            color=not args.no_color,
            overlay=not args.no_overlay,
            samples=0,
            obstacles=not args.no_obstacles,
        )
        pipeline = Pipeline(
            load_engine(args.model, args.backend), args.threshold,
            output_size=args.output_size, obstacles=options.obstacle_settings(),
        )  # fmt: skip
        session = ReplaySession(pipeline, options)
        session.check()
        result = session.run()
    report = report_dict(result, [str(b) for b in args.replay], "(discarded)", str(args.model))
    print(markdown(report))
    if args.json:
        write_json(args.json, report)
    return 1 if result.error else 0
