"""The chaos command line: `gameday chaos COMMAND` (wired by gameday/chaos_commands.py) and
`python -m chaos COMMAND` (same commands).

    inject NAME   one fault by hand; waits out its duration and undoes it (Ctrl-C: early)
    status        active faults and their time left
    cleanup       undo every fault the ledger knows (idempotent)
    reap          undo every expired fault (the stack's reaper runs this)
    validate FILE check an experiment file (errors name line and column)
    run FILE      run an experiment (or its negative control); --dry prints the plan
    faults        the fault catalog

Exit codes (local_stack.exit_codes, one table for every command): 0 ok (also: inject ended
early by Ctrl-C, cleanup with nothing to do); 1 a fault failed to land / the experiment failed /
cleanup left something; 2 bad usage, an invalid file, an unknown target name, a refused
(non-loopback) target; 3 no stack; 130/143 a run interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaos.durations import format_seconds, parse_duration
from local_stack.exit_codes import ExitCode

log = logging.getLogger("chaos.cli")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE
EXIT_NO_STACK = ExitCode.UNAVAILABLE


def _duration(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="the stack's state dir (default: $GAMEDAY_STATE_DIR or ./.gameday)")
    parser.add_argument("--target-aws", action="store_true",
                        help="act on a real AWS account (needs --allow-account)")
    parser.add_argument("--allow-account", action="append", default=[], metavar="ID",
                        help="AWS account id the CLI may act on (with --target-aws)")
    parser.add_argument("--stack", help="with --target-aws: the shop's CloudFormation stack "
                        "(`gameday aws deploy`); only resources it tagged are targeted")
    parser.add_argument("--region", help="with --target-aws: the stack's region")


def register_commands(sub: argparse._SubParsersAction) -> None:
    """Add the chaos subcommands to a subparsers object."""
    from chaos.faults import FAULTS

    inject = sub.add_parser("inject", help="inject one fault by hand")
    _add_common(inject)
    inject.add_argument("name", choices=sorted(FAULTS), metavar="NAME",
                        help=f"one of: {', '.join(sorted(FAULTS))}")
    inject.add_argument("--target", default="ALL", help="ALL | COUNT(n) | PERCENT(n)")
    inject.add_argument("--service",
                        help="kill-replica: storefront|payments|reviews|stream-runtime|redis; "
                             "service-*: payments|reviews; dynamodb-throttle: any service")
    inject.add_argument("--function", help="Lambda function name(s), comma-separated")
    inject.add_argument("--duration", type=_duration, default=30.0, help="e.g. 30s (default)")
    inject.add_argument("--rate", type=float, help="fraction of calls affected, 0..1")
    inject.add_argument("--seed", type=int, help="seed for target selection (replay a run)")
    inject.add_argument("--status", type=int, help="HTTP status for service-error (503)")
    inject.add_argument("--exception", help="exception for lambda-error (RuntimeError)")
    inject.add_argument("--delay", type=_duration, help="latency for *-latency, e.g. 300ms")
    inject.add_argument("--match", metavar="FIELD=VALUE", action="append",
                        help="lambda faults: only records whose NewImage FIELD equals VALUE "
                             "(repeat: every one must hold)")
    inject.add_argument("--tables", help="dynamodb-throttle: table names, comma-separated")
    inject.add_argument("--alarm", help="remove-alarm: alarm name(s)")
    inject.add_argument("--mode", help="remove-alarm: delete | drop-treat-missing-data")
    inject.add_argument("--setting", action="append", default=[], metavar="KEY=JSON",
                        help="esm-update: a mapping setting, e.g. BisectBatchOnFunctionError="
                             "false")
    inject.add_argument("--detach", action="store_true",
                        help="return at once; the fault ends at its expiry or on cleanup")
    inject.add_argument("--dry", action="store_true", help="print the plan, touch nothing")
    inject.set_defaults(func=cmd_inject)

    status = sub.add_parser("status", help="active faults with their time left")
    _add_common(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    cleanup = sub.add_parser("cleanup", help="undo every fault the ledger knows")
    _add_common(cleanup)
    cleanup.set_defaults(func=cmd_cleanup)

    reap = sub.add_parser("reap", help="undo every expired fault (for the stack's reaper)")
    _add_common(reap)
    reap.set_defaults(func=cmd_reap)

    validate = sub.add_parser("validate", help="check an experiment file")
    validate.add_argument("file", type=Path, nargs="+")
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="run an experiment file")
    _add_common(run)
    run.add_argument("file", type=Path)
    run.add_argument("--dry", action="store_true",
                     help="resolve targets and print the plan without touching anything")
    run.add_argument("--control", action="store_true",
                     help="run the negative control (protection off): succeeds when it FAILS")
    run.add_argument("--seed", type=int)
    run.add_argument("--journal", type=Path, metavar="DIR",
                     help="where journal.json, report.html, junit.xml go "
                          "(default: <state-dir>/runs/<run-id>)")
    run.add_argument("--grafana-url", help="annotate each fault in this Grafana (loopback)")
    run.add_argument("--grafana-token", help="Grafana API token (Bearer)")
    run.set_defaults(func=cmd_run)

    faults = sub.add_parser("faults", help="list the faults this CLI can inject")
    faults.add_argument("--target-aws", action="store_true",
                        help="the aws target's backends (chaos/faults/aws)")
    faults.set_defaults(func=cmd_faults)

    fis = sub.add_parser("fis-template", help="the FIS alternative for a Lambda fault: print "
                         "(or --create) an FIS experiment template (docs/aws.md, FIS)")
    _add_common(fis)
    fis.add_argument("name", choices=("lambda-error", "lambda-latency"))
    fis.add_argument("--role-arn", required=True,
                     help="the role FIS runs the experiment as (Lambda and S3 permissions)")
    fis.add_argument("--function", help="function ARNs, comma-separated (default: every "
                     "function tagged by --stack)")
    fis.add_argument("--duration", type=_duration, default=30.0)
    fis.add_argument("--rate", type=float, default=1.0, help="fraction of invocations, 0..1")
    fis.add_argument("--delay", type=_duration, help="lambda-latency: e.g. 500ms")
    fis.add_argument("--stop-alarm", action="append", default=[], metavar="ARN",
                     help="a CloudWatch alarm ARN that stops the experiment (repeatable)")
    fis.add_argument("--create", action="store_true",
                     help="create it in the account (needs --target-aws --allow-account)")
    fis.set_defaults(func=cmd_fis_template)


# -- helpers ------------------------------------------------------------------------------------


def _context(args: argparse.Namespace, require_stack: bool = True) -> Any:
    from chaos.context import ChaosContext

    return ChaosContext.load(args.state_dir, args.target_aws, args.allow_account, require_stack,
                             stack=getattr(args, "stack", None),
                             region=getattr(args, "region", None))


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"chaos: {message}", file=sys.stderr)
    return code


def _inject_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in ("service", "function", "rate", "status", "exception", "tables", "alarm",
                "mode"):
        value = getattr(args, key)
        if value is not None:
            params[key] = value
    if args.delay is not None:
        params["delay_ms"] = int(round(args.delay * 1000))
    if args.match:
        conditions = []
        for text in args.match:
            field, sep, value = text.partition("=")
            if not sep or not field:
                raise ValueError("--match takes FIELD=VALUE")
            conditions.append({"field": field, "equals": value})
        params["match"] = conditions[0] if len(conditions) == 1 else conditions
    if args.setting:
        settings = {}
        for item in args.setting:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"--setting takes KEY=JSON, got {item!r}")
            try:
                settings[key] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"--setting {key}: {raw!r} is not JSON") from exc
        params["settings"] = settings
    return params


# -- commands -----------------------------------------------------------------------------------


def cmd_inject(args: argparse.Namespace) -> int:
    from chaos.exceptions import InjectionFailed
    from chaos.faults.injector import Injector
    from chaos.safety import UnsafeTarget
    from chaos.targets import TARGETS, Selection, TargetSelectionError
    from local_stack.state import StackNotRunning

    try:
        Selection.parse(args.target)  # a malformed flag is named before anything else,
        target = TARGETS.get("aws" if args.target_aws else "local")
        target.fault(args.name).normalize(_inject_params(args))  # stack or not
        ctx = _context(args)
        injector = Injector(ctx)
        plan = injector.plan(args.name, args.target, _inject_params(args), args.duration,
                             args.seed)
    except StackNotRunning as exc:
        return _fail(str(exc), EXIT_NO_STACK)
    except (UnsafeTarget, ValueError, TargetSelectionError) as exc:  # UnknownTarget included
        return _fail(str(exc))
    except InjectionFailed as exc:
        return _fail(str(exc), EXIT_FAILED)
    print(f"{plan.name} {plan.selection} of {', '.join(plan.candidates)} "
          f"(seed {plan.seed}; replay with --seed {plan.seed})")
    for effect in plan.effects:
        print(f"  - {effect}")
    if args.dry:
        print("dry run: nothing touched")
        return EXIT_OK

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            entry = injector.inject(plan)
        except InjectionFailed as exc:
            return _fail(f"injection failed: {exc}", EXIT_FAILED)
        until = time.strftime("%H:%M:%S", time.localtime(entry.expires_at))
        print(f"injected {entry.fault_id} on {', '.join(entry.targets)}; expires {until} "
              f"({format_seconds(plan.duration_s)})", flush=True)
        if args.detach:
            print("detached: it ends at its expiry, or with `gameday chaos cleanup`")
            return EXIT_OK
        print("Ctrl-C ends it early", flush=True)
        stop.wait(max(0.0, entry.expires_at - time.time()))
        outcome = injector.undo(entry.fault_id, by_owner=True)
        print(f"ended {entry.fault_id}: {outcome.detail}")
        return EXIT_OK if outcome.status != "failed" else EXIT_FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_status(args: argparse.Namespace) -> int:
    from chaos.ledger import Ledger, LedgerCorrupt
    from local_stack.state import StackNotRunning, read_state

    state_dir = _state_dir(args)
    if not args.target_aws:
        try:
            read_state(state_dir)
        except StackNotRunning as exc:  # not "no active faults": there is nothing to ask
            return _fail(str(exc), EXIT_NO_STACK)
    try:
        active = Ledger(state_dir).active()
    except LedgerCorrupt as exc:
        return _fail(str(exc), EXIT_FAILED)
    now = time.time()
    if args.json:
        print(json.dumps([dict(e.to_dict(), time_left_s=round(e.time_left(now), 1))
                          for e in active], indent=2))
        return EXIT_OK
    if not active:
        print("no active faults")
        return EXIT_OK
    print(f"{'FAULT':<44} {'TARGETS':<28} TIME LEFT")
    for entry in active:
        left = entry.time_left(now)
        shown = format_seconds(left) if left > 0 else (
            "expired (ended by its target)" if entry.undo.get("self_expiring", True)
            else "expired (awaiting reap)")
        print(f"{entry.fault_id:<44} {', '.join(entry.targets)[:28]:<28} {shown}")
    return EXIT_OK


def _state_dir(args: argparse.Namespace) -> Path:
    from local_stack.state import default_state_dir

    return Path(args.state_dir or default_state_dir()).resolve()


def cmd_cleanup(args: argparse.Namespace) -> int:
    from chaos.faults.injector import Injector
    from chaos.ledger import Ledger
    from chaos.safety import UnsafeTarget

    try:
        ctx = _context(args, require_stack=False)
    except UnsafeTarget as exc:
        return _fail(str(exc))
    report = Injector(ctx, Ledger(ctx.state_dir)).cleanup()
    for outcome in report.undone:
        print(f"undid {outcome.fault_id} ({outcome.name} on {', '.join(outcome.targets)}): "
              f"{outcome.detail}")
    for line in report.strays:
        print(line)
    for outcome in report.failed:
        print(f"FAILED to undo {outcome.fault_id}: {outcome.detail}", file=sys.stderr)
    if report.tidied:
        print(f"tidied {len(report.tidied)} fault(s) that had already ended at their expiry: "
              + ", ".join(o.fault_id for o in report.tidied))
    if report.nothing_left:
        print("nothing left to clean up")
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_reap(args: argparse.Namespace) -> int:
    from chaos.ledger import Ledger

    ledger = Ledger(_state_dir(args))
    if not any(e.is_expired() for e in ledger.active()):
        return EXIT_OK  # the common case for a periodic reaper: no AWS client, no output
    from chaos.faults.injector import Injector
    from chaos.safety import UnsafeTarget

    try:
        ctx = _context(args, require_stack=False)
    except UnsafeTarget as exc:
        return _fail(str(exc))
    outcomes = Injector(ctx, ledger).reap()
    for outcome in outcomes:
        print(outcome.line())
    return EXIT_FAILED if any(o.status == "failed" for o in outcomes) else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from chaos.spec.loader import InvalidExperiment, load_file

    code = EXIT_OK
    for path in args.file:
        try:
            experiment = load_file(path)
        except InvalidExperiment as exc:
            for error in exc.errors:
                print(str(error), file=sys.stderr)
            code = EXIT_USAGE
            continue
        print(f"{path}: ok ({experiment.title})")
    return code


def cmd_run(args: argparse.Namespace) -> int:
    from chaos.runner.outcome import INTERRUPTED
    from chaos.runner.plan import build_plan, format_plan
    from chaos.runner.run import ExperimentRunner, RunOptions
    from chaos.safety import UnsafeTarget
    from chaos.spec.loader import InvalidExperiment, load_file
    from chaos.targets import new_seed
    from local_stack.state import StackNotRunning

    try:
        experiment = load_file(args.file)
    except InvalidExperiment as exc:
        for error in exc.errors:
            print(str(error), file=sys.stderr)
        return EXIT_USAGE
    if args.control and not experiment.data.get("control"):
        return _fail(f"{args.file} defines no negative control")
    seed = args.seed if args.seed is not None else experiment.data.get("seed", new_seed())
    try:
        ctx = _context(args, require_stack=not args.dry)
    except StackNotRunning as exc:
        return _fail(str(exc), EXIT_NO_STACK)
    except UnsafeTarget as exc:
        return _fail(str(exc))
    if args.dry:
        print(format_plan(build_plan(experiment, ctx if ctx.has_stack else None, seed,
                                     args.control)))
        print("dry run: nothing touched")
        return EXIT_OK
    grafana = None
    if args.grafana_url:
        from chaos.report.grafana import GrafanaClient

        try:
            grafana = GrafanaClient(args.grafana_url, args.grafana_token)
        except UnsafeTarget as exc:
            return _fail(str(exc))
    from local_stack.stop_signals import StopSignals

    options = RunOptions(seed=seed, control=args.control, out_dir=args.journal,
                         grafana=grafana, handle_signals=False)
    runner = ExperimentRunner(experiment, ctx, options)

    def interrupt(signum: int) -> None:  # the runner stops where it is and rolls back
        log.warning("%s: stopping the run and rolling back", signal.Signals(signum).name)
        runner.interrupt()

    with StopSignals(on_signal=interrupt) as stop:  # explicit: also when SIGINT was ignored
        result = runner.run()
    print_result(result)
    if stop.exit_code is not None and result.outcome == INTERRUPTED:
        return stop.exit_code
    return result.exit_code


def print_result(result: Any) -> None:
    print(f"\n{result.title} [{result.variant}] run {result.run_id}: {result.outcome.upper()}"
          + (f" — {result.reason}" if result.reason else ""))
    for v in result.verdicts:
        mark = "PASS" if v.passed else "FAIL"
        observed = v.observed if not isinstance(v.observed, float) else round(v.observed, 3)
        text = json.dumps(observed, default=str)
        print(f"  {mark}  {v.title}: observed {text[:120]}, expected {v.expected}"
              + (f" ({v.detail})" if v.detail else ""))
    shown = {k: v for k, v in result.numbers.items() if v is not None
             and k not in ("fault_start", "fault_end")}
    if shown:
        print("  numbers: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if result.variant == "control":
        if result.conclusive_control:
            print("  negative control FAILED as it must: the protection is load-bearing")
        elif result.outcome in ("failed", "aborted"):
            print("  negative control failed, but not on "
                  + ", ".join(result.failed_as_expected()) + ": inconclusive")
        else:
            print("  negative control did NOT fail: the protection is not shown to matter")
    for kind, path in result.files.items():
        print(f"  {kind}: {path}")


def cmd_fis_template(args: argparse.Namespace) -> int:
    from chaos.faults.aws import fis
    from chaos.safety import UnsafeTarget

    if not args.stack:
        return _fail("fis-template needs --stack NAME (its functions are selected by tag)")
    try:
        request = fis.experiment_template(
            args.name, args.stack, args.role_arn, args.duration, rate=args.rate,
            delay_ms=int(round(args.delay * 1000)) if args.delay else None,
            functions=[f.strip() for f in (args.function or "").split(",") if f.strip()],
            stop_alarm_arns=args.stop_alarm)
    except ValueError as exc:
        return _fail(str(exc))
    print(json.dumps(request, indent=2, sort_keys=True))
    print(f"note: FIS' Lambda actions need the FIS extension layer on each function and start "
          f"up to {fis.START_DELAY_S} s after the experiment (docs/aws.md, FIS)",
          file=sys.stderr)
    if not args.create:
        return EXIT_OK
    if not args.target_aws:
        return _fail("--create acts on an account: add --target-aws --allow-account ID")
    try:
        ctx = _context(args, require_stack=False)
    except UnsafeTarget as exc:
        return _fail(str(exc))
    template_id = fis.create(ctx.client("fis"), request)
    print(f"created FIS experiment template {template_id}; start it with "
          f"`aws fis start-experiment --experiment-template-id {template_id}`")
    return EXIT_OK


def cmd_faults(args: argparse.Namespace) -> int:
    from chaos.targets import TARGETS

    faults = TARGETS.get("aws" if args.target_aws else "local").faults()
    for name, fault in sorted(faults.items()):
        ends = "ends by itself at expiry" if fault.self_expiring else "ended by reap at expiry"
        print(f"{name:<18} {fault.summary} ({ends})")
    return EXIT_OK


# -- entry points -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chaos",
                                     description="Faults and experiments against the shop.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="chaos_command", metavar="COMMAND", required=True)
    register_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
