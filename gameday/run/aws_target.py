"""`gameday run --target aws --stack NAME --allow-account ID`: the game day against a shop that
`gameday aws deploy` put into an account.

What differs from the local game day (orchestrator.py), and nothing else:
- no stack phase: the account is checked first (STS, `--allow-account`; nothing is called
  before), the endpoints come from the stack's outputs (`deploy.aws.catalog`), the first
  request goes to the ALB;
- Locust runs on this machine against the ALB's storefront URL (or, deployed with
  `--locust-workers`, the stack's own Locust: its web UI is printed);
- every experiment acts through the aws target (chaos/targets/aws.py): its faults are
  chaos/faults/aws/ (tagged resources only, each undo scheduled in the account before it
  injects), its probes chaos/probes/aws/; the ledger is in a private state dir;
- teardown undoes every fault the ledger holds (and deletes their schedules); the stack stays
  (`gameday aws destroy`).

`--dry` prints each experiment's plan on the stack (targets chosen from the tagged resources,
with the run's seed) and every AWS API call the game day would make, then stops: only read
calls are made (the account, the stack's outputs, the candidates).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from gameday.run.orchestrator import GameDay
from gameday.run.selection import derived_seed
from gameday.run.warmup import first_request, smoke_order
from local_stack.exit_codes import ExitCode

log = logging.getLogger("gameday.run.aws")


def _fail(message: str, code: int = ExitCode.USAGE) -> int:
    print(f"gameday run: {message}", file=sys.stderr)
    return code


def aws_context(args: argparse.Namespace, state_dir: Path) -> Any:
    """The aws target's context: the account checked, the stack's catalog read."""
    from chaos.context import ChaosContext

    ctx = ChaosContext.load(state_dir, target_aws=True, allow_accounts=args.allow_account,
                            require_stack=False, stack=args.stack, region=args.region)
    ctx.catalog()
    return ctx


def plan_lines(experiments: list[tuple[str, Path]], ctx: Any, seed: int
               ) -> tuple[list[str], list[str]]:
    """(the printed plans, every API call of the game day in order of first use)."""
    from chaos.runner.plan import build_plan, format_plan
    from chaos.spec.loader import load_file

    lines: list[str] = []
    calls: list[str] = []
    for name, path in experiments:
        plan = build_plan(load_file(path), ctx, derived_seed(seed, name))
        lines += [f"== {name}", format_plan(plan), ""]
        calls += plan.get("api_calls", [])
    return lines, list(dict.fromkeys(calls))


def run_aws(args: argparse.Namespace, experiments: list[tuple[str, Path]], seed: int,
            run_game_day: Any) -> int:
    """The aws game day (or its --dry plan); `run_game_day(ctx)` runs the real one."""
    from chaos.exceptions import UnsafeTarget
    from deploy.aws.catalog import StackNotFound

    if not args.stack:
        return _fail("--target aws needs --stack NAME (the stack `gameday aws deploy` made)")
    if not args.allow_account:
        return _fail("--target aws needs --allow-account ID (the account you mean to act on)")
    state_dir = (args.state_dir or Path(tempfile.mkdtemp(prefix="gameday-aws-"))).resolve()
    try:
        ctx = aws_context(args, state_dir)
    except UnsafeTarget as exc:
        return _fail(str(exc))
    except StackNotFound as exc:
        return _fail(f"{exc}: deploy it with `gameday aws deploy`", ExitCode.UNAVAILABLE)
    catalog = ctx.catalog()
    print(f"gameday run --target aws: account {ctx.account}, stack {args.stack} "
          f"({catalog.get('region') or ctx.region}), storefront {catalog['urls']['storefront']}",
          flush=True)
    if args.dry:
        lines, calls = plan_lines(experiments, ctx, seed)
        for line in lines:
            print(line)
        print("every AWS API call of this game day (the operator policy allows exactly "
              "these, deploy/aws/operator-policy.json):")
        for call in calls:
            print(f"  {call}")
        print("dry run: nothing was changed")
        return ExitCode.OK
    return int(run_game_day(ctx))


class AwsGameDay(GameDay):
    """The game day on the aws target (see the module docstring)."""

    def __init__(self, options: Any, display: Any, ctx: Any) -> None:
        options.state_dir = ctx.state_dir
        super().__init__(options, display)
        self.own_state_dir = False
        self.remote_load = True  # the stack's ALB, in the account --allow-account named
        self.ctx = ctx

    def chaos_context(self) -> Any:
        return self.ctx

    def undo_faults(self) -> list[str]:
        from chaos.faults.injector import Injector

        report = Injector(self.ctx).cleanup()
        return ([f"undid {o.fault_id}: {o.detail}" for o in report.undone]
                + [f"could not undo {o.fault_id}: {o.detail}" for o in report.failed]
                + list(report.strays))

    def _storefront(self) -> str:
        return str(self.ctx.catalog()["urls"]["storefront"]).rstrip("/")

    def _stack_phase(self) -> None:
        import time

        self.estimate.start("stack", time.monotonic())
        storefront = self._storefront()
        self.display.set_phase("reaching the stack", lambda: storefront)
        self.result.stack.update({"target": "aws", "stack": self.ctx.stack,
                                  "account": self.ctx.account, "storefront": storefront,
                                  "state_dir": str(self.state_dir)})
        served = first_request(storefront, stop=self.stop)
        self._check_stop()
        self.result.stack["first_request_s"] = round(served - self.options.started_at, 2)
        self.estimate.finish("stack", time.monotonic())
        self.display.println(f"ok  stack {self.ctx.stack} answers at {storefront}")

    def _warmup_phase(self) -> None:
        import time

        self.estimate.start("warm-up", time.monotonic())
        storefront = self._storefront()
        self.display.set_phase("warming up", lambda: "Locust users on the ALB, one order")
        self._start_locust(storefront)
        order = smoke_order(storefront, timeout_s=180.0, stop=self.stop)
        self._check_stop()
        self.result.warmup = order
        self.estimate.finish("warm-up", time.monotonic())
        self.display.println(f"ok  warm-up: order {order['order_id']} {order['status']} in "
                             f"{order['seconds']:.1f} s")
