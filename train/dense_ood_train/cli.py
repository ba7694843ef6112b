"""`dense-ood-train`: the training command line, one module per subcommand.

The subcommands live in dense_ood_train.commands. Same conventions as `dense-ood`
(dense_ood_ros.console.cli): each module exposes `add_arguments(parser)` and `run(args) -> int`,
and keeps torch imports cheap at parser-build time where it can.
"""

from __future__ import annotations

import sys

from dense_ood_ros.console.cli import build_parser, run_cli

COMMANDS: dict[str, str] = {
    "pretrain-flow": "dense_ood_train.commands.pretrain_flow",
    "fit": "dense_ood_train.commands.fit",
    "export": "dense_ood_train.commands.export",
    "rehead": "dense_ood_train.commands.rehead",
    "evaluate": "dense_ood_train.commands.evaluate",
    "study": "dense_ood_train.commands.study",
    "bench-step": "dense_ood_train.commands.bench_step",
    "write-scenes": "dense_ood_train.commands.write_scenes",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(
        "dense-ood-train",
        "dense_ood_train: train NFlowJS models, export contract-1 ONNX, evaluate anomaly scores.",
        COMMANDS,
    )
    return run_cli(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
