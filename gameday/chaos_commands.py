"""`gameday chaos ...`: faults and experiments (the commands live in chaos/cli.py).

Wire it in gameday/cli.py next to the stack commands:

    from gameday import chaos_commands
    chaos_commands.register(sub)
"""

from __future__ import annotations

import argparse

from chaos.cli import register_commands


def register(sub: argparse._SubParsersAction) -> None:
    chaos = sub.add_parser(
        "chaos", help="inject faults, run experiments, clean up",
        description="Faults and experiments against the running shop (loopback only unless "
                    "--target-aws --allow-account ID).",
    )
    chaos_sub = chaos.add_subparsers(dest="chaos_command", metavar="COMMAND", required=True)
    register_commands(chaos_sub)
