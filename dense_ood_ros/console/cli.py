"""Command lines made of subcommands, one module each: `dense-ood` and `dense-ood-train`.

Each subcommand module exposes `add_arguments(parser)` and `run(args) -> int`; its docstring is
the subcommand's help. Modules are imported to build the parser, so they keep heavy imports
(rclpy, onnxruntime, torch) inside `run`.

Errors have one path: a subcommand raises `CommandError` (or lets a `DenseOodError` or `OSError`
through) and `run_cli` prints it as one line on stderr, `<prog> <command>: error: <message>`, and
returns its exit code (2 unless the `CommandError` says otherwise).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping

from dense_ood_ros.errors import DenseOodError, first_line

USAGE_EXIT_CODE = 2


class CommandError(DenseOodError):
    """A subcommand's error: one line on stderr, then `exit_code` (2, usage-like, by default)."""

    def __init__(self, message: str, exit_code: int = USAGE_EXIT_CODE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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


def print_error(command: str, exc: BaseException) -> None:
    """`<command>: error: <first line of exc>` on stderr, one line."""
    print(f"{command}: error: {first_line(exc)}", file=sys.stderr)


def run_cli(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; its return value is the exit code, and its
    errors (CommandError, DenseOodError, OSError) one line on stderr and their exit code."""
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (DenseOodError, OSError) as exc:
        print_error(f"{parser.prog} {args.command}", exc)
        return exc.exit_code if isinstance(exc, CommandError) else USAGE_EXIT_CODE
