"""`gameday audit`: reconcile orders, stock, payments and carts of the running stack
(reference_app.audit), order by order; exit status 1 when anything is wrong, 3 when there is
no stack (local_stack.exit_codes)."""

from __future__ import annotations

import argparse
import os
import sys

from gameday.stack_commands import add_state_dir
from local_stack.exit_codes import ExitCode
from local_stack.state import StackNotRunning, default_state_dir, read_state


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="check every order, stock and payment invariant")
    add_state_dir(parser)
    parser.add_argument("--grace-s", type=float, default=60.0,
                        help="orders younger than this are in flight, not stuck (default 60)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    try:
        state = read_state((args.state_dir or default_state_dir()).resolve())
    except StackNotRunning as exc:
        print(f"gameday audit: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    # the audit reads the same settings the services read: the stack's endpoint and prefix
    os.environ.update({k: v for k, v in state.get("env", {}).items()
                       if k.startswith(("AWS_", "SHOP_TABLE_PREFIX"))})
    from reference_app.audit import main as audit_main

    argv = ["--grace-s", str(args.grace_s)] + (["--json"] if args.json else [])
    return audit_main(argv)
