"""`gameday`: the harness's command line. Each subcommand lives in its own module and registers
itself here; this file only builds the parser and dispatches."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gameday import (
    audit_command,
    aws_command,
    chaos_commands,
    dashboards_command,
    load_commands,
    run_command,
    stack_commands,
    traces_command,
)
from local_stack.exit_codes import ExitCode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gameday",
        description="Load and chaos game days against the reference shop.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stack_commands.register(sub)
    traces_command.register(sub)
    load_commands.register(sub)
    audit_command.register(sub)
    chaos_commands.register(sub)
    dashboards_command.register(sub)
    run_command.register(sub)
    aws_command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
