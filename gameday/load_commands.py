"""`gameday load`: run the Locust load test against the stack in the gameday state file.

Runs `python -m locust -f <installed loadtests/locustfile.py> ...` as a subprocess, headless
unless --web, writing CSV (`<out>/locust_*.csv`), HTML (`<out>/report.html`) and our JSON
summary (`<out>/summary.json`) into --out, and exits with Locust's exit code (1 when an SLO
gate is missed); 3 at once when the target does not answer (or there is no stack and no
--host), 130/143 when a signal ended the run (reports written). Arguments after `--` go to
Locust unchanged.

    gameday load --users 10 --spawn-rate 5 --run-time 30s --shape november \\
        --gate-failure-ratio 0.01 --gate-p99 "/v1/products/{sku}=500" --gate-min-rps 20

--find-capacity steps the users up (--step-users every --step-duration, at most -u) until a
per-step gate breaks (--gate-failure-ratio/--gate-p95/--gate-p99; by default failures <= 1 %
and p99 <= 1 s) and prints the knee, the step with the most req/s that met them, with every
step's numbers; `capacity.json` and `capacity.svg` go next to Locust's reports. --gate-min-rps
is then a floor on the knee. --workers N runs Locust distributed: a master and N worker
processes on this machine (Locust's --processes), the master judging the gates.

    gameday load --find-capacity -u 200 --step-users 20 --step-duration 20s \\
        --gate-p99 "Aggregated=500" -- --think-time 0.05:0.2
    gameday load --workers 2 -u 40 -t 2m
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gameday import capacity_report
from gameday.arg_types import number, whole_number
from loadtests.capacity import DEFAULT_MAX_USERS, CapacityPlan
from loadtests.hosts import HostError, NoStack, check_host, host_from_state, unanswered
from loadtests.locust_free import SHAPES, locust_env, locustfile_path, parse_timespan
from local_stack.exit_codes import ExitCode
from local_stack.ports import free_port
from local_stack.stop_signals import StopSignals
from local_stack.supervisor import die_with_parent

# Nothing here may import Locust (see loadtests.locust_free).

MAX_USERS_HINT = 20
DEFAULT_USERS = 10
CAPACITY_RUN_TIME_MARGIN_S = 30  # -t of a capacity run: the search's own budget, and this


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
                   help="allow a host outside loopback (127.0.0.0/8, ::1)")
    p.add_argument("-u", "--users", type=whole_number(1), default=None,
                   help=f"users (peak users for a shape, most users for --find-capacity) "
                        f"(default {DEFAULT_USERS}; --find-capacity {DEFAULT_MAX_USERS})")
    p.add_argument("-r", "--spawn-rate", type=number(0, strict=True), default=None,
                   help="users started per second (default: all within a second)")
    p.add_argument("-t", "--run-time", type=_run_time, default="30s",
                   help="duration, e.g. 30s, 2m (default 30s)")
    p.add_argument("--shape", choices=SHAPES, default="none",
                   help="load shape (default none: a steady -u/-r/-t run)")
    p.add_argument("--find-capacity", action="store_true",
                   help="step the users up until a gate breaks and report the knee "
                        "(--shape capacity; -t does not apply)")
    p.add_argument("--step-users", type=whole_number(1), default=None,
                   help="--find-capacity and --shape step: users added per step")
    p.add_argument("--step-duration", type=_run_time, default=None,
                   help="--find-capacity and --shape step: duration of one step "
                        "(capacity default 20s)")
    p.add_argument("--step-settle", type=_run_time, default=None,
                   help="--find-capacity: start of each step left out of its measurement "
                        "(default a quarter of the step)")
    p.add_argument("--workers", type=whole_number(1), default=None,
                   help="run Locust distributed: a master and this many worker processes")
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


def finds_capacity(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "find_capacity", False)) or args.shape == "capacity"


def users_of(args: argparse.Namespace) -> int:
    if args.users is not None:
        return int(args.users)
    return DEFAULT_MAX_USERS if finds_capacity(args) else DEFAULT_USERS


def _seconds(span: str | None) -> float | None:
    return None if span is None else float(parse_timespan(span))


def capacity_plan(args: argparse.Namespace) -> CapacityPlan:
    """The plan the Locust side builds from the same options (ValueError when impossible)."""
    return CapacityPlan(max_users=users_of(args), step_users=args.step_users or 0,
                        step_s=_seconds(args.step_duration) or CapacityPlan().step_s,
                        settle_s=_seconds(args.step_settle), spawn_rate=args.spawn_rate or 0.0)


def build_locust_argv(args: argparse.Namespace, host: str, out: Path) -> list[str]:
    """The Locust command line for these `gameday load` arguments."""
    users = users_of(args)
    rate = args.spawn_rate if args.spawn_rate is not None else float(users)
    shape, run_time = args.shape, args.run_time
    if finds_capacity(args):  # the search ends the run; -t is only a safety net
        shape = "capacity"
        run_time = f"{math.ceil(capacity_plan(args).budget_s()) + CAPACITY_RUN_TIME_MARGIN_S}s"
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile_path()),
            "--host", host, "-u", str(users), "-r", f"{rate:g}", "-t", run_time,
            "--seed", str(args.seed), "--shape", shape,
            "--csv", str(out / "locust"), "--html", str(out / "report.html"),
            "--json-summary", str(out / "summary.json")]
    for flag, value in (("--step-users", args.step_users),
                        ("--step-duration", args.step_duration),
                        ("--step-settle", args.step_settle)):
        if value is not None:
            argv += [flag, str(value)]
    if args.workers:
        port = free_port()  # the master's own port, on loopback, per run
        argv += ["--processes", str(args.workers), "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", str(port), "--master-port", str(port)]
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
    capacity = finds_capacity(args)
    if capacity:
        try:
            capacity_plan(args)
        except ValueError as exc:
            print(f"gameday load: --find-capacity: {exc}", file=sys.stderr)
            return ExitCode.USAGE
    try:
        host = check_host(args.host.rstrip("/"), args.allow_remote) if args.host \
            else check_host(host_from_state(args.state_dir), args.allow_remote)
    except HostError as exc:
        print(f"gameday load: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE if isinstance(exc, NoStack) else ExitCode.USAGE
    why = unanswered(host)  # fail fast instead of a whole run of 100 % failures
    if why:
        print(f"gameday load: {host} does not answer ({why}); nothing to load. Is the stack "
              "up? (`gameday status`)", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    if not capacity and not args.workers and users_of(args) > MAX_USERS_HINT:
        print(f"gameday load: note: {users_of(args)} users on a shared machine; the load "
              f"generator may become the bottleneck (--workers N spreads it)", file=sys.stderr)
    out = (args.out or Path("reports") / time.strftime("load-%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    argv = build_locust_argv(args, host, out)
    print(f"gameday load: {host}, reports in {out}", flush=True)
    # Locust runs in its own session and gets SIGINT/SIGTERM from here only (also when this
    # process started with SIGINT ignored, as a script's background job does); it then writes
    # its reports and exits.
    children: list[subprocess.Popen[bytes]] = []
    forwarded: list[int] = []

    def forward(signum: int) -> None:
        for child in children:
            child.send_signal(signum)
            forwarded.append(signum)

    with StopSignals(on_signal=forward) as stop:
        proc = subprocess.Popen(argv, env=locust_env(), start_new_session=True,
                                preexec_fn=die_with_parent)
        children.append(proc)
        if stop.received is not None and not forwarded:  # it came before proc existed
            proc.send_signal(stop.received)
        code = proc.wait()
    print(f"gameday load: locust exited with {code}; summary: {out / 'summary.json'}",
          flush=True)
    if capacity:
        report_capacity(out)
    if stop.exit_code is not None and not args.web:  # Ctrl-C is how a --web run ends
        return stop.exit_code
    return code


def report_capacity(out: Path) -> None:
    """Print the capacity search's table and write capacity.json and capacity.svg."""
    try:
        found = capacity_report.capacity_of(json.loads((out / "summary.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"gameday load: no capacity report: the summary could not be read ({exc})",
              file=sys.stderr)
        return
    if found is None:
        print("gameday load: no capacity report: the summary has no capacity search",
              file=sys.stderr)
        return
    paths = capacity_report.write(out, found)
    print(capacity_report.table(found))
    print(f"gameday load: capacity plot {paths['svg']}, data {paths['json']}", flush=True)
