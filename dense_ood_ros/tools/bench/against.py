"""`dense-ood bench --against ENGINE...`: the reference engine (--model on --backend) and the
others on the same frames, timed interleaved: latency, speed-up, agreement, score difference."""

from __future__ import annotations

import argparse

from dense_ood_ros.console.json_output import write_json


def run(args: argparse.Namespace) -> int:
    from dense_ood_ros.model.bundled import sample_frames_dir
    from dense_ood_ros.model.contract import read_contract
    from dense_ood_ros.replay.calibration_frames import load_calibration_set
    from dense_ood_ros.tools.engine_compare import (
        EngineSpec,
        compare_engines,
        format_comparison,
        parse_spec,
    )

    reference = EngineSpec(args.model, args.backend)
    specs = [reference] + [parse_spec(t, args.model, args.backend) for t in args.against]
    folder = args.frames_dir or sample_frames_dir()
    frames = load_calibration_set(read_contract(args.model).input_hw, directory=folder).frames
    rows = compare_engines(specs, frames, args.iterations, args.warmup, args.batch)
    print(format_comparison(rows, len(frames), args.batch))
    if args.json:
        write_json(args.json, rows)
    return 0
