"""`gameday up`, `gameday down`, `gameday status`: the local stack's lifecycle."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from gameday.arg_types import number, whole_number
from gameday.status_watch import MAX_INTERVAL_S, MIN_INTERVAL_S
from local_stack.exit_codes import ExitCode
from local_stack.stack import LocalStack, StackConfig
from local_stack.state import StackNotRunning, default_state_dir, read_state, state_path

log = logging.getLogger("gameday")
SECONDS = number(0, what="a number of seconds")


def INTERVAL(text: str) -> float:  # noqa: N802 - an argparse type, named like the others
    """--interval: a number of seconds within [MIN_INTERVAL_S, MAX_INTERVAL_S]."""
    value = number(MIN_INTERVAL_S, what="a number of seconds")(text)
    if value > MAX_INTERVAL_S:
        raise argparse.ArgumentTypeError(f"{value:g} must be <= {MAX_INTERVAL_S:g}")
    return value


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, default=None,
        help="state file, logs and holds (default: $GAMEDAY_STATE_DIR or ./.gameday)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="start the whole shop on loopback and keep it running")
    add_state_dir(up)
    up.add_argument("--port-base", type=whole_number(0), default=8700,
                    help="first of a block of ports; 0 picks random free ports (default 8700)")
    up.add_argument("--storefront-replicas", type=whole_number(0), default=2)
    up.add_argument("--payments-replicas", type=whole_number(0), default=2)
    up.add_argument("--reviews-replicas", type=whole_number(0), default=1)
    up.add_argument("--seed", type=whole_number(0), default=42, help="Faker seed for the catalog")
    up.add_argument("--products", type=whole_number(0), default=120)
    up.add_argument("--replace-delay", type=SECONDS, default=1.0,
                    help="seconds before a dead replica is replaced (default 1)")
    up.add_argument("--no-breaker", action="store_true",
                    help="disable the circuit breakers (a negative control)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop the stack that `gameday up` started")
    add_state_dir(down)
    down.add_argument("--timeout", type=SECONDS, default=30.0)
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="show the running stack's URLs and replicas; "
                                           "--watch: the live Game day view")
    add_state_dir(status)
    status.add_argument("--watch", action="store_true",
                        help="show the Game day view (active faults, breakers, alarms) and "
                             "redraw it every --interval seconds until Ctrl-C (exit 0)")
    status.add_argument("--interval", type=INTERVAL, default=2.0,
                        help=f"--watch: seconds between redraws, {MIN_INTERVAL_S:g} to "
                             f"{MAX_INTERVAL_S:g} (default 2)")
    status.set_defaults(func=cmd_status)


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = (args.state_dir or default_state_dir()).resolve()
    extra_env = {"SHOP_BREAKER_ENABLED": "false"} if args.no_breaker else {}
    try:
        config = StackConfig(
            state_dir=state_dir,
            port_base=args.port_base,
            storefront_replicas=args.storefront_replicas,
            payments_replicas=args.payments_replicas,
            reviews_replicas=args.reviews_replicas,
            seed=args.seed,
            products=args.products,
            replace_delay_s=args.replace_delay,
            extra_env=extra_env,
        )
        stack = LocalStack(config)
    except ValueError as exc:
        print(f"gameday up: {exc}", file=sys.stderr)
        return ExitCode.USAGE

    def _on_signal(signum: int, _frame: object) -> None:
        stack.supervisor.stopping.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        try:
            state = stack.start()
        except Exception as exc:  # noqa: BLE001 - report any start failure, then clean up
            log.error("the stack did not start: %s", exc)
            return ExitCode.UNAVAILABLE
        if stack.supervisor.stopping.is_set():
            return ExitCode.OK  # Ctrl-C or SIGTERM while starting: stopping is up's normal end
        print_urls(state)
        print(f"state file: {state_path(state_dir)}  (Ctrl-C or `gameday down` stops everything)",
              flush=True)
        while not stack.supervisor.stopping.wait(0.5):
            pass
        if stack.supervisor.fatal:
            log.error(stack.supervisor.fatal)
            return ExitCode.UNAVAILABLE
        return ExitCode.OK
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.info("stopping the stack")
        stack.stop()
        log.info("stopped")


def print_urls(state: dict) -> None:
    urls = state["urls"]
    print("", flush=True)
    print(f"shop is up in {state.get('ready_after_s', '?')} s", flush=True)
    for key in ("storefront", "payments", "reviews", "aws", "redis"):
        if key in urls:
            print(f"  {key:<12} {urls[key]}", flush=True)
    for name, group in state.get("services", {}).items():
        for replica in group["replicas"]:
            if name in ("storefront", "payments", "reviews") and replica.get("port"):
                url = f"http://127.0.0.1:{replica['port']}/metrics"
                print(f"  metrics      {url}  ({replica['name']})", flush=True)
    for key, url in urls.items():
        if key.endswith("_metrics"):
            print(f"  metrics      {url}  ({key[:-8]})", flush=True)
    print(f"  openapi      {urls['storefront']}/openapi.json", flush=True)


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = (args.state_dir or default_state_dir()).resolve()
    try:
        state = read_state(state_dir)
    except StackNotRunning as exc:  # idempotent: nothing to stop is not an error
        print(f"gameday down: nothing to stop ({exc})", file=sys.stderr)
        return ExitCode.OK
    pid = int(state["supervisor_pid"])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"gameday down: supervisor pid {pid} is gone; removing a stale state file")
        state_path(state_dir).unlink(missing_ok=True)
        return ExitCode.OK
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("stack stopped")
            return ExitCode.OK
        time.sleep(0.2)
    print(f"gameday down: supervisor pid {pid} still running after {args.timeout:.0f} s",
          file=sys.stderr)
    return ExitCode.FAILED


def cmd_status(args: argparse.Namespace) -> int:
    state_dir = (args.state_dir or default_state_dir()).resolve()
    try:
        state = read_state(state_dir)
    except StackNotRunning as exc:
        print(f"gameday status: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    if args.watch:
        from gameday.status_watch import watch

        return watch(state_dir, args.interval)
    print_urls(state)
    for name, group in state.get("services", {}).items():
        alive = sum(1 for r in group["replicas"] if r["alive"])
        print(f"  {name:<16} {alive}/{len(group['replicas'])} replicas alive")
    return ExitCode.OK
