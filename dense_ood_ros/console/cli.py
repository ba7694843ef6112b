"""Command lines made of subcommands, one module each: `dense-ood` and `dense-ood-train`.

Each subcommand module exposes `add_arguments(parser)` and `run(args) -> int`; its docstring is
the subcommand's help. Modules are imported to build the parser, so they keep heavy imports
(rclpy, onnxruntime, torch) inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping


def build_parser(
    prog: str, description: str, commands: Mapping[str, str]
) -> argparse.ArgumentParser:
    """An argparse parser with one subcommand per module in `commands` (name -> module)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip()
        sub = subparsers.add_parser(
            name,
            help=doc.splitlines()[0] if doc else None,
            description=doc,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def run_cli(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; its return value is the exit code."""
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)
