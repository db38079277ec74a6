"""`gameday load`: run the Locust load test against the stack in the gameday state file.

Runs `python -m locust -f <installed loadtests/locustfile.py> ...` as a subprocess, headless
unless --web, writing CSV (`<out>/locust_*.csv`), HTML (`<out>/report.html`) and our JSON
summary (`<out>/summary.json`) into --out, and exits with Locust's exit code (1 when an SLO
gate is missed). Arguments after `--` go to Locust unchanged.

    gameday load --users 10 --spawn-rate 5 --run-time 30s --shape november \\
        --gate-failure-ratio 0.01 --gate-p99 "/v1/products/{sku}=500" --gate-min-rps 20
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gameday.arg_types import number, whole_number
from loadtests.hosts import HostError, check_host, host_from_state
from loadtests.locust_free import SHAPES, locust_env, locustfile_path, parse_timespan

# Nothing here may import Locust (see loadtests.locust_free).

MAX_USERS_HINT = 20


def _checked(parser_name: str, option: str) -> Callable[[str], str]:
    """argparse type: validate a gate now (clear error naming the option), pass the text on."""

    def convert(text: str) -> str:
        from loadtests import gates

        try:
            getattr(gates, parser_name)(text, option)
        except gates.GateParseError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    return convert


def _run_time(text: str) -> str:
    try:
        parse_timespan(text)  # validates; Locust parses it again
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time span (examples: 30, 30s, 2m, 1h30m)") from exc
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `gameday load` to the gameday command line."""
    p = subparsers.add_parser(
        "load", help="run the Locust load test against the running stack",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, default=None,
                   help="the stack's state dir (default: $GAMEDAY_STATE_DIR or ./.gameday)")
    p.add_argument("--host", default=None,
                   help="load this URL instead of the state file's storefront")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a host outside loopback 127.0.0.0/8")
    p.add_argument("-u", "--users", type=whole_number(1), default=10,
                   help="users (peak users for a shape) (default 10)")
    p.add_argument("-r", "--spawn-rate", type=number(0, strict=True), default=None,
                   help="users started per second (default: all within a second)")
    p.add_argument("-t", "--run-time", type=_run_time, default="30s",
                   help="duration, e.g. 30s, 2m (default 30s)")
    p.add_argument("--shape", choices=SHAPES, default="none",
                   help="load shape (default none: a steady -u/-r/-t run)")
    p.add_argument("--seed", type=int, default=42, help="test data seed (default 42)")
    p.add_argument("--contention-users", type=int, default=None,
                   help="fixed number of cart-contention users (default: by class weight)")
    p.add_argument("--out", type=Path, default=None,
                   help="directory for CSV, HTML and JSON reports "
                        "(default ./reports/load-<timestamp>)")
    p.add_argument("--gate-failure-ratio", type=_checked("parse_ratio", "--gate-failure-ratio"),
                   default=None, metavar="RATIO")
    p.add_argument("--gate-p95", type=_checked("parse_route_limit", "--gate-p95"),
                   action="append", default=[], metavar="ROUTE=MS")
    p.add_argument("--gate-p99", type=_checked("parse_route_limit", "--gate-p99"),
                   action="append", default=[], metavar="ROUTE=MS")
    p.add_argument("--gate-min-rps", type=_checked("parse_rps", "--gate-min-rps"),
                   default=None, metavar="RPS")
    p.add_argument("--web", action="store_true",
                   help="start the web UI on 127.0.0.1 (start the test from the browser; "
                        "Ctrl-C writes the reports) instead of a headless run")
    p.add_argument("--web-port", type=whole_number(1), default=8089)
    p.add_argument("locust_args", nargs=argparse.REMAINDER,
                   help="after `--`: extra arguments passed to Locust as they are")
    p.set_defaults(func=cmd_load)


def build_locust_argv(args: argparse.Namespace, host: str, out: Path) -> list[str]:
    """The Locust command line for these `gameday load` arguments."""
    rate = args.spawn_rate if args.spawn_rate is not None else float(args.users)
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile_path()),
            "--host", host, "-u", str(args.users), "-r", f"{rate:g}", "-t", args.run_time,
            "--seed", str(args.seed), "--shape", args.shape,
            "--csv", str(out / "locust"), "--html", str(out / "report.html"),
            "--json-summary", str(out / "summary.json")]
    if args.contention_users is not None:
        argv += ["--contention-users", str(args.contention_users)]
    if args.state_dir is not None:
        argv += ["--state-dir", str(args.state_dir)]
    if args.allow_remote:
        argv.append("--allow-remote")
    if args.gate_failure_ratio is not None:
        argv += ["--gate-failure-ratio", args.gate_failure_ratio]
    for value in args.gate_p95:
        argv += ["--gate-p95", value]
    for value in args.gate_p99:
        argv += ["--gate-p99", value]
    if args.gate_min_rps is not None:
        argv += ["--gate-min-rps", args.gate_min_rps]
    if args.web:
        argv += ["--web-host", "127.0.0.1", "--web-port", str(args.web_port)]
    else:
        argv += ["--headless", "--only-summary"]
    extra = list(args.locust_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    return argv + extra


def cmd_load(args: argparse.Namespace) -> int:
    try:
        host = check_host(args.host.rstrip("/"), args.allow_remote) if args.host \
            else check_host(host_from_state(args.state_dir), args.allow_remote)
    except HostError as exc:
        print(f"gameday load: {exc}", file=sys.stderr)
        return 2
    if args.users > MAX_USERS_HINT:
        print(f"gameday load: note: {args.users} users on a shared machine; the load "
              f"generator may become the bottleneck", file=sys.stderr)
    out = (args.out or Path("reports") / time.strftime("load-%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    argv = build_locust_argv(args, host, out)
    print(f"gameday load: {host}, reports in {out}", flush=True)
    proc = subprocess.Popen(argv, env=locust_env())
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        # The terminal sent SIGINT to Locust too; let it write its reports and exit.
        code = proc.wait()
    print(f"gameday load: locust exited with {code}; summary: {out / 'summary.json'}",
          flush=True)
    return code
