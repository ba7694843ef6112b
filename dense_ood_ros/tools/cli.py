"""`dense-ood`: the runtime's command line (bench, demo, ...), one module per subcommand
(the conventions are dense_ood_ros.console.cli's)."""

from __future__ import annotations

import sys

from dense_ood_ros.console.cli import build_parser, run_cli

COMMANDS: dict[str, str] = {
    "bench": "dense_ood_ros.tools.bench",
    "demo": "dense_ood_ros.tools.demo",
    "replay": "dense_ood_ros.tools.replay",
    "make-sample-bag": "dense_ood_ros.tools.sample_bag",
    "bench-transport": "dense_ood_ros.tools.transport_bench",
    "quantize": "dense_ood_ros.tools.quantize",
    "build-engine": "dense_ood_ros.tools.build_engine",
    "soak": "dense_ood_ros.tools.soak",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(
        "dense-ood",
        "dense_ood_ros runtime tools: benchmarks, the live demo, bag replay.",
        COMMANDS,
    )
    return run_cli(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
