"""`dense-ood bench --profile-ops`: ONNX Runtime's per-operator kernel times of --model (engine
only, batch --batch, --iterations runs): where the engine time goes."""

from __future__ import annotations

import argparse

import numpy as np

from dense_ood_ros.console.json_output import write_json
from dense_ood_ros.tools.bench.common import camera_frame


def run(args: argparse.Namespace) -> int:
    from dense_ood_ros.model.contract import read_contract
    from dense_ood_ros.tools.op_profile import format_profile, profile_operators

    height, width = read_contract(args.model).input_hw
    frame = camera_frame(args.image, height, width)
    rows = profile_operators(args.model, np.stack([frame] * args.batch), args.iterations)
    print(format_profile(rows, args.model))
    if args.json:
        write_json(args.json, rows)
    return 0
