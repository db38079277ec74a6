"""`gameday run`: the whole game day in one command.

Starts the shop on random loopback ports (a private state dir, so it never collides with a
`gameday up`), warms it up, runs the default experiments (chaos/experiments/*.yaml) one after
another under Locust load from the shipped journeys, paced to --rate requests per second
(default 60, a fortieth of them checkouts), tears everything down and writes one report
directory (default reports/gameday-<timestamp>/: index.html, summary.json, junit.xml).

    gameday run                                  # every experiment, ~5 minutes
    gameday run --quick                          # two short ones, under 2 minutes
    gameday run --quick --rate 120               # the same under twice the load
    gameday run --experiments payments-breaker,poison-record --seed 1234
    gameday run --no-breaker                     # negative control: must FAIL
    gameday run --keep                           # leave the stack and a Locust web UI up
    gameday run --target aws --stack gameday-shop --allow-account 123456789012 [--dry]
                                                 # against a deployed stack (docs/aws.md)

Exit codes: 0 every hypothesis held; 1 one failed (the terminal says which and why) or
something was left running; 2 bad usage, an unknown experiment, a missing prerequisite;
3 the game day could not run (the stack did not start or does not work); 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gameday import IMPORTED_AT
from gameday.arg_types import rate, whole_number
from loadtests.pacing import GAME_DAY_RATE, MAX_RATE, LoadMix
from local_stack.exit_codes import ExitCode

if TYPE_CHECKING:
    from gameday.run.progress import ProgressDisplay

log = logging.getLogger("gameday.run")

EXIT_USAGE = ExitCode.USAGE
DEFAULT_RATE = GAME_DAY_RATE


def register(sub: argparse._SubParsersAction) -> None:
    """Add `gameday run` to the gameday command line."""
    p = sub.add_parser("run", help="the whole game day: stack, load, every experiment, report",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a short game day (payments-breaker and storefront-replica-killed, "
                        "the same load): under 2 minutes")
    p.add_argument("--experiments", action="append", default=[], metavar="NAME[,NAME]",
                   help="run these experiments (file stems of chaos/experiments/*.yaml), in "
                        "this order; see --list")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--seed", type=whole_number(0), default=None,
                   help="replay a game day: the same catalog, Locust users and fault targets "
                        "(default: a fresh seed, printed)")
    p.add_argument("--keep", action="store_true",
                   help="after the report, leave the stack and a Locust web UI up until Ctrl-C")
    p.add_argument("--report-dir", type=Path, default=None,
                   help="where the report goes (default reports/gameday-<timestamp>)")
    p.add_argument("--no-breaker", action="store_true",
                   help="sabotage: start the stack with the circuit breakers off (a negative "
                        "control: the payments-breaker hypothesis must fail)")
    p.add_argument("--rate", type=rate(MAX_RATE), default=DEFAULT_RATE, metavar="REQ_PER_S",
                   help="the Locust load's requests per second, the whole day (default "
                        f"{DEFAULT_RATE:g}); a fortieth of them are checkouts by buyers "
                        "(loadtests.pacing)")
    p.add_argument("--users", type=whole_number(1), default=None,
                   help="Locust users carrying that rate, buyers included (default: enough "
                        "for it, e.g. 19 at 60 req/s)")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="the stack's state dir (default: a private temporary directory, "
                        "removed at the end)")
    p.add_argument("--web-port", type=whole_number(1), default=None,
                   help="--keep: the Locust web UI's port (default: a free one)")
    p.add_argument("--target", choices=("local", "aws"), default="local",
                   help="where the shop runs: local (started here, the default) or aws (a "
                        "stack `gameday aws deploy` made; needs --stack and --allow-account)")
    p.add_argument("--stack", help="--target aws: the shop's CloudFormation stack")
    p.add_argument("--allow-account", action="append", default=[], metavar="ID",
                   help="--target aws: the account you mean to act on (checked with STS "
                        "before any other call)")
    p.add_argument("--region", help="--target aws: the stack's region")
    p.add_argument("--dry", action="store_true",
                   help="--target aws: print every experiment's plan and every AWS API call "
                        "the game day would make, then stop (read-only calls only)")
    p.set_defaults(func=cmd_run)


def command_started_at() -> float:
    """When the command started (the budget counts from the command, imports included)."""
    return IMPORTED_AT


def replay_command(args: argparse.Namespace, seed: int) -> str:
    parts = ["gameday run", f"--seed {seed}"]
    if args.quick:
        parts.append("--quick")
    if args.experiments:
        parts.append("--experiments " + ",".join(args.experiments))
    if args.no_breaker:
        parts.append("--no-breaker")
    if args.rate != DEFAULT_RATE:
        parts.append(f"--rate {args.rate:g}")
    if args.users is not None:
        parts.append(f"--users {args.users}")
    return " ".join(parts)


def default_report_dir() -> Path:
    base = Path("reports") / time.strftime("gameday-%Y%m%d-%H%M%S")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _fail(message: str) -> int:
    print(f"gameday run: {message}", file=sys.stderr)
    return EXIT_USAGE


def validate(args: argparse.Namespace) -> tuple[list[tuple[str, Path]], str] | str:
    """(experiments, mode) or an error message (exit 2)."""
    from chaos.spec.loader import InvalidExperiment, load_file
    from gameday.run.selection import UnknownExperiment, parse_names, select

    names = parse_names(args.experiments)
    if args.experiments and not names:
        return "--experiments needs at least one name"
    try:
        chosen = select(names or None, args.quick)
    except UnknownExperiment as exc:
        return str(exc)
    problems = []
    for _name, path in chosen:
        try:
            load_file(path)
        except InvalidExperiment as exc:
            problems += [str(e) for e in exc.errors]
    if problems:
        return "invalid experiment file(s):\n  " + "\n  ".join(problems)
    try:
        LoadMix.plan(args.rate, users=args.users)
    except ValueError as exc:
        return f"--rate {args.rate:g} with --users {args.users}: {exc}"
    mode = "custom" if names else ("quick" if args.quick else "full")
    return chosen, mode


def cmd_list() -> int:
    from chaos.spec.loader import InvalidExperiment, load_file
    from gameday.run.estimates import guess_experiment_s
    from gameday.run.selection import QUICK, available

    for name, path in available().items():
        try:
            title = load_file(path).title
        except InvalidExperiment:
            title = "(invalid file: gameday chaos validate " + str(path) + ")"
        quick = " [--quick]" if name in QUICK else ""
        print(f"{name:<28} ~{guess_experiment_s(name):.0f} s  {title}{quick}")
    return ExitCode.OK


def _setup_logging(report_dir: Path, display: ProgressDisplay, verbose: bool) -> None:
    """Everything to `gameday-run.log` in the report; warnings (all with -v) to the terminal,
    through the progress display."""
    from gameday.run.progress import DisplayHandler

    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler):
            root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    file_handler = logging.FileHandler(report_dir / "gameday-run.log")
    file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    file_handler.setFormatter(fmt)
    root.addHandler(file_handler)
    terminal = DisplayHandler(display, logging.INFO if verbose else logging.WARNING)
    terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:
        # the chaos runner's own warnings (a sample that failed while a replica was dead)
        # belong in the log file; the terminal shows errors and the game day's own warnings
        terminal.addFilter(lambda r: r.levelno >= logging.ERROR
                           or r.name.startswith("gameday"))
    root.addHandler(terminal)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _run_aws(args: argparse.Namespace, experiments: list[tuple[str, Path]], mode: str,
             started_at: float) -> int:
    from gameday.run.aws_target import AwsGameDay, run_aws
    from gameday.run.selection import new_seed

    seed = args.seed if args.seed is not None else new_seed()

    def run_game_day(ctx: object) -> int:
        from gameday.run.orchestrator import GameDayOptions
        from gameday.run.progress import ProgressDisplay
        from gameday.run.terminal import summary_lines

        report_dir = (args.report_dir or default_report_dir()).resolve()
        report_dir.mkdir(parents=True, exist_ok=True)
        options = GameDayOptions(
            experiments=experiments, seed=seed, report_dir=report_dir, mode=mode,
            mix=LoadMix.plan(args.rate, users=args.users),
            replay=replay_command(args, seed) + f" --target aws --stack {args.stack}",
            started_at=started_at)
        display = ProgressDisplay(sys.stdout)
        _setup_logging(report_dir, display, getattr(args, "verbose", False))
        gameday = AwsGameDay(options, display, ctx)
        result = gameday.run()
        for line in summary_lines(result, gameday.index):
            print(line, flush=True)
        return result.exit_code

    return run_aws(args, experiments, seed, run_game_day)


def cmd_run(args: argparse.Namespace) -> int:
    started_at = command_started_at()
    try:
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    if args.list:
        return cmd_list()
    checked = validate(args)
    if isinstance(checked, str):
        return _fail(checked)
    experiments, mode = checked
    if args.target == "aws":
        return _run_aws(args, experiments, mode, started_at)
    if args.dry or args.stack or args.allow_account:
        return _fail("--stack, --allow-account and --dry apply to --target aws")

    from gameday.run import prereqs

    missing, found = prereqs.check()
    if missing:
        lines = "\n".join(f"  - {m}" for m in missing)
        return _fail(f"missing before a game day can start:\n{lines}")
    if args.state_dir is not None:
        from local_stack.state import StackNotRunning, read_state

        try:
            state = read_state(args.state_dir.resolve())
            return _fail(f"a stack already uses {args.state_dir} (supervisor pid "
                         f"{state.get('supervisor_pid')}); stop it with `gameday down "
                         f"--state-dir {args.state_dir}` or choose another --state-dir")
        except StackNotRunning:
            pass
    report_dir = (args.report_dir or default_report_dir()).resolve()
    if (report_dir / "summary.json").exists():
        return _fail(f"{report_dir} already holds a game-day report; choose another "
                     "--report-dir")
    report_dir.mkdir(parents=True, exist_ok=True)

    from gameday.run.orchestrator import GameDay, GameDayOptions
    from gameday.run.progress import ProgressDisplay, format_clock
    from gameday.run.selection import new_seed
    from gameday.run.terminal import summary_lines

    seed = args.seed if args.seed is not None else new_seed()
    mix = LoadMix.plan(args.rate, users=args.users)
    options = GameDayOptions(
        experiments=experiments, seed=seed, report_dir=report_dir, mode=mode,
        state_dir=args.state_dir.resolve() if args.state_dir else None, mix=mix,
        products=60 if args.quick else 120, keep=args.keep, no_breaker=args.no_breaker,
        replay=replay_command(args, seed), started_at=started_at, web_port=args.web_port)
    display = ProgressDisplay(sys.stdout)
    display.started -= max(0.0, time.time() - started_at)  # elapsed counts from the command
    _setup_logging(report_dir, display, getattr(args, "verbose", False))
    gameday = GameDay(options, display)
    names = ", ".join(n for n, _ in experiments)
    print(f"gameday run: {len(experiments)} experiment(s) ({names}), about "
          f"{format_clock(gameday.estimate.total())}; seed {seed} "
          f"(replay: {options.replay})", flush=True)
    if args.no_breaker:
        print("  sabotaged: the breakers are OFF (--no-breaker); payments-breaker must FAIL",
              flush=True)
    print(f"  redis-server: {found.get('redis-server')}; report: {report_dir}", flush=True)
    log.info("prerequisites: %s", found)
    result = gameday.run()
    # summary.json says result.exit_code: that is the exit code, also when a Ctrl-C comes
    # while the summary is printed (everything is torn down and written by now)
    from local_stack.stop_signals import StopSignals

    with StopSignals():
        for line in summary_lines(result, gameday.index):
            print(line, flush=True)
    return result.exit_code
