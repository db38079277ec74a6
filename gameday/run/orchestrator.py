"""The game day, phase by phase:

1. stack     `gameday up` on random free ports in a private state dir (stack_process)
2. warm-up   first request served, one order through the saga (warmup), Locust users started
3. experiments, one after another, each through chaos.runner with its own probe load, under
             the Locust users (experiment_phase)
4. teardown  Locust stopped (it writes its reports), every fault undone, the stack stopped, and
             checked: no child process, no stack process, no port left (teardown)
5. report    index.html, summary.json, junit.xml, summary.svg (report_files)

SIGINT/SIGTERM at any point: the running experiment rolls back, the remaining ones are marked
"not run", the teardown and the report still happen. With `keep`, the stack and a Locust web UI
stay up after the report until SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.run import budgets, cells, headline
from gameday.run.estimates import PHASES_S, Estimate, guess_experiment_s
from gameday.run.experiment_phase import ExperimentPhase
from gameday.run.locust_process import LocustProcess, locust_argv, summarize
from gameday.run.progress import ProgressDisplay, format_phase
from gameday.run.report_files import write_report
from gameday.run.results import NOT_RUN, ExperimentSummary, GameDayResult
from gameday.run.selection import derived_seed
from gameday.run.stack_process import StackFailed, StackProcess
from gameday.run.teardown import active_faults, leftovers, undo_faults
from gameday.run.warmup import WarmupFailed, breaker_settings, first_request, smoke_order
from loadtests.pacing import GAME_DAY_RATE, LoadMix
from local_stack.ports import free_port

log = logging.getLogger("gameday.run")


@dataclass
class GameDayOptions:
    """Everything `gameday run` was told (run_command builds it from the arguments)."""

    experiments: list[tuple[str, Path]]
    seed: int
    report_dir: Path
    mode: str = "full"  # full | quick | custom
    state_dir: Path | None = None  # None: a private temporary directory
    mix: LoadMix = field(default_factory=lambda: LoadMix.plan(GAME_DAY_RATE))  # Locust's load
    products: int = 120
    keep: bool = False
    no_breaker: bool = False
    replay: str = ""
    started_at: float = field(default_factory=time.time)
    web_port: int | None = None  # --keep: the Locust web UI's port (None: a free one)


class Interrupted(Exception):
    """A signal asked the game day to stop."""


class GameDay:
    def __init__(self, options: GameDayOptions, display: ProgressDisplay) -> None:
        self.options = options
        self.display = display
        self.stop = threading.Event()
        self.signal_name = ""
        self.keep_ended = False  # --keep's Ctrl-C came: the rest is the teardown, not a signal
        self.current: ExperimentPhase | None = None
        self.report_dir = options.report_dir
        self.own_state_dir = options.state_dir is None
        self.state_dir = options.state_dir or Path(tempfile.mkdtemp(prefix="gameday-run-"))
        self.stack: StackProcess | None = None
        self.locust: LocustProcess | None = None
        self.web_ui: LocustProcess | None = None
        self.breakers: dict[str, Any] = {}
        self.index: Path | None = None
        self.remote_load = False  # Locust may aim outside loopback (the aws target)
        self.estimate = Estimate(
            [("stack", PHASES_S["stack"]), ("warm-up", PHASES_S["warm-up"])]
            + [(name, guess_experiment_s(name)) for name, _ in options.experiments]
            + [("teardown", PHASES_S["teardown"])])
        self.display.remaining = self.estimate.remaining
        self.result = GameDayResult(
            started_at=options.started_at, seed=options.seed,
            options={"mode": options.mode, "quick": options.mode == "quick",
                     "experiments": [n for n, _ in options.experiments],
                     "users": options.mix.users, "rate": options.mix.rate,
                     "products": options.products,
                     "no_breaker": options.no_breaker, "keep": options.keep,
                     "replay": options.replay, "report_dir": str(options.report_dir)},
            experiments=[ExperimentSummary(name=n, title=n, outcome=NOT_RUN,
                                           seed=derived_seed(options.seed, n),
                                           reason="the game day stopped before it")
                         for n, _ in options.experiments])

    # -- signals ----------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.signal_name or self.keep_ended:
            self.display.println(f"{name}: already stopping (rolling back, stopping the "
                                 "stack); please wait")
            return
        self.signal_name = name
        self.stop.set()
        if self.current is not None:
            self.display.println(f"{name}: stopping — rolling back {self.current.name}, then "
                                 "tearing everything down")
            self.current.interrupt()
        else:
            self.display.println(f"{name}: stopping — tearing everything down")

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, self._on_signal)
                for sig in (signal.SIGINT, signal.SIGTERM)}

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> GameDayResult:
        previous = self._install_signals()
        self.display.start()
        try:
            try:
                self._stack_phase()
                self._warmup_phase()
                self._experiments_phase()
            except Interrupted:
                pass
            except (StackFailed, WarmupFailed) as exc:
                if not self.signal_name:
                    self.result.error = str(exc).splitlines()[0]
                    self.display.println(f"ERROR: {exc}")
            except Exception as exc:  # noqa: BLE001 - whatever happens, tear down and report
                log.exception("the game day failed")
                self.result.error = f"{type(exc).__name__}: {exc}"
            if self.signal_name:
                self.result.interrupted_by = self.signal_name
            self._teardown()
        finally:
            self.display.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.result

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted()

    # -- phases -----------------------------------------------------------------------------
    def _stack_phase(self) -> None:
        self.estimate.start("stack", time.monotonic())
        self.display.set_phase("starting the stack", lambda: "gameday up on random ports")
        self.stack = StackProcess(self.state_dir, self.report_dir / "stack" / "gameday-up.log",
                                  seed=derived_seed(self.options.seed, "catalog"),
                                  products=self.options.products,
                                  no_breaker=self.options.no_breaker)
        self.result.stack["command"] = " ".join(["gameday", *self.stack.argv[3:]])
        self.result.stack["state_dir"] = str(self.state_dir)
        state = self.stack.start(stop=self.stop)
        self.result.stack.update(self.stack.snapshot.to_dict())  # ready_after_s included
        storefront = state["urls"]["storefront"]
        served = self.stack.first_served_at or first_request(storefront, stop=self.stop)
        self._check_stop()
        first = round(served - self.options.started_at, 2)
        self.result.stack["first_request_s"] = first
        self.estimate.finish("stack", time.monotonic())
        ready = round(time.time() - self.options.started_at, 1)
        self.result.stack["ready_s"] = ready
        self.display.println(f"ok  shop served its first request {first:.1f} s after the "
                             f"command; whole stack ready after {ready:.1f} s ({storefront})")

    def _warmup_phase(self) -> None:
        assert self.stack is not None
        self.estimate.start("warm-up", time.monotonic())
        self.display.set_phase("warming up", lambda: "one order through the saga, then the "
                                                     "Locust users")
        state = self.stack.state
        storefront = state["urls"]["storefront"]
        # the smoke order first, on the quiet shop: it says whether the shop works at all;
        # whether it works under load is what the experiments are for
        order = smoke_order(storefront, stop=self.stop)
        self._check_stop()
        self._start_locust(storefront)
        self.result.warmup = order
        self.breakers = breaker_settings(storefront, state["tokens"]["admin"])
        self.result.stack["breakers"] = self.breakers
        mix = self.options.mix
        if self.locust is not None and not self.locust.running():
            note = f"Locust exited early (code {self.locust.proc.returncode}); see load/locust.log"
            self.result.load["note"] = note
            log.warning("%s:\n%s", note, self.locust.log_tail())
        self.estimate.finish("warm-up", time.monotonic())
        self.display.println(f"ok  warm-up: order {order['order_id']} {order['status']} in "
                             f"{order['seconds']:.1f} s; Locust at {mix.rate:g} req/s "
                             f"({mix.checkout_rate:g} checkouts/s), {mix.users} users on the "
                             "shipped journeys")

    def _start_locust(self, storefront: str) -> None:
        out = self.report_dir / "load"
        safety = int(3 * self.estimate.total() + 300)
        argv = locust_argv(storefront, self.options.mix,
                           derived_seed(self.options.seed, "locust"), self.state_dir, out,
                           run_time_s=safety, allow_remote=self.remote_load)
        self.locust = LocustProcess(argv, out / "locust.log")
        self.locust.start()
        self.result.load["users_requested"] = self.options.mix.users
        self.result.load["requested"] = self.options.mix.describe()
        self.result.load["command"] = " ".join(["locust", *argv[3:]])

    def _experiments_phase(self) -> None:
        total = len(self.options.experiments)
        for index, (name, path) in enumerate(self.options.experiments, start=1):
            self._check_stop()
            if self.stack is not None and not self.stack.running():
                raise StackFailed(f"the stack stopped by itself before {name}:\n"
                                  f"{self.stack.log_tail()}")
            self.estimate.start(name, time.monotonic())
            phase = ExperimentPhase(name, path, self.state_dir, self.report_dir,
                                    derived_seed(self.options.seed, name), self.chaos_context())
            self.current = phase
            label = format_phase(index, total, name)
            self.display.set_phase(label, phase.status)
            summary = phase.run()
            self.current = None
            self.result.experiments[index - 1] = summary
            self.estimate.finish(name, time.monotonic())
            self.display.println(self._experiment_line(summary))
            if self.stack is not None:
                self.stack.refresh()
            leftover = active_faults(self.state_dir)
            if leftover:
                log.warning("faults still active after %s: %s; undoing them", name,
                            ", ".join(leftover))
                self.undo_faults()

    def chaos_context(self) -> Any:
        """The context the experiments act through (None: each reads the state dir)."""
        return None

    def undo_faults(self) -> list[str]:
        """Undo every fault the ledger still holds."""
        return undo_faults(self.state_dir)

    @staticmethod
    def _experiment_line(exp: ExperimentSummary) -> str:
        took = f"{exp.duration_s:.0f} s" if exp.duration_s is not None else "?"
        if exp.passed:
            return (f"ok  {exp.name} PASSED in {took}: detection {cells.timing(exp.detection)}"
                    f", recovery {cells.timing(exp.recovery)}, orders lost "
                    f"{cells.orders(exp)}")
        return f"XX  {exp.name} {exp.outcome.upper()} in {took}: {exp.why()}"

    # -- teardown ---------------------------------------------------------------------------
    def _teardown(self) -> None:
        self.estimate.start("teardown", time.monotonic())
        self.display.set_phase("tearing down", lambda: "stopping Locust (it writes its "
                                                       "report), undoing every fault")
        down = self.result.teardown
        if self.locust is not None:
            down["locust_exit_code"] = self.locust.stop()
        self.result.load.update(summarize(self.report_dir / "load"))
        if self.stack is not None and self.stack.running() or self.chaos_context() is not None:
            try:
                down["faults_undone"] = self.undo_faults()
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                log.error("could not undo the faults: %s", exc)
                down["faults_undone"] = [f"cleanup failed: {exc}"]
        history = headline.read_locust_history(self.report_dir / "load" /
                                               "locust_stats_history.csv")
        headline.attach_locust(self.result.experiments, history)
        kept = self.options.keep and self.stack is not None and self.stack.running() \
            and not self.stop.is_set()
        if kept:
            self._keep_running()
        extra_ports = [self.options.web_port] if self.options.web_port else []
        if self.web_ui is not None:
            self.web_ui.stop()
        self.display.set_phase("tearing down", lambda: "stopping the stack, checking that "
                                                       "nothing is left running or bound")
        if self.stack is not None:
            self.stack.refresh()
            down["killed"] = self.stack.stop()
        self._collect_stack_files()
        left = self._wait_for_leftovers(extra_ports)
        down["leftovers"] = left
        down["summary"] = ("nothing left running or bound" if not left
                           else f"{len(left)} thing(s) left behind")
        if self.own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self.estimate.finish("teardown", time.monotonic())
        if not kept:  # with --keep the game day ended before the wait
            self.result.ended_at = time.time()
        self.result.budgets = budgets.compute(
            [e for e in self.result.experiments if e.outcome != NOT_RUN],
            first_request_s=self.result.stack.get("first_request_s"),
            total_s=self.result.duration_s, mode=self.options.mode, breakers=self.breakers,
            stack_ready_s=self.result.stack.get("ready_s"))
        self.display.println(("ok  " if not left else "XX  ") + "teardown: "
                             + down["summary"])
        self.index = write_report(self.result, self.report_dir)

    def _wait_for_leftovers(self, extra_ports: list[int]) -> list[str]:
        snapshot = self.stack.snapshot if self.stack is not None else None
        if snapshot is None:
            return []
        deadline = time.monotonic() + 10
        while True:
            left = leftovers(snapshot, extra_ports)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)

    def _collect_stack_files(self) -> None:
        target = self.report_dir / "stack"
        target.mkdir(parents=True, exist_ok=True)
        logs = self.state_dir / "logs"
        if logs.is_dir():
            shutil.copytree(logs, target / "logs", dirs_exist_ok=True)
        for name in ("events.jsonl", "ledger.json"):
            if (self.state_dir / name).exists():
                shutil.copy2(self.state_dir / name, target / name)
        found = sorted(p.relative_to(self.report_dir).as_posix() for p in target.rglob("*")
                       if p.is_file())
        self.result.stack["logs"] = found

    def _keep_running(self) -> None:
        """--keep: write the report, start the Locust web UI, wait for Ctrl-C/SIGTERM."""
        assert self.stack is not None
        self.result.teardown["summary"] = "kept running (--keep)"
        self.result.ended_at = time.time()
        index = write_report(self.result, self.report_dir)
        storefront = self.stack.state["urls"]["storefront"]
        port = self.options.web_port or free_port()
        self.options.web_port = port
        argv = locust_argv(storefront, self.options.mix,
                           derived_seed(self.options.seed, "locust"), self.state_dir, None,
                           web_port=port)
        self.web_ui = LocustProcess(argv, self.report_dir / "load" / "locust-web.log")
        self.web_ui.start()
        self.display.set_phase("kept running (--keep)", lambda: "Ctrl-C stops everything",
                               open_ended=True)
        urls = self.stack.state["urls"]
        lines = ["", "the stack is still up (--keep); Ctrl-C or SIGTERM stops everything:",
                 f"  report          {index}",
                 f"  Locust web UI   http://127.0.0.1:{port}  (start a swarm; the Game day "
                 "tab shows faults, breakers, alarms)",
                 f"  storefront      {urls['storefront']}",
                 f"  payments        {urls['payments']}",
                 f"  AWS endpoint    {urls['aws']}",
                 f"  state dir       {self.state_dir}",
                 f"  try             GAMEDAY_STATE_DIR={self.state_dir} gameday chaos status",
                 ""]
        for line in lines:
            self.display.println(line)
        while not self.stop.wait(0.5):
            if not self.stack.running():
                log.error("the stack stopped by itself; see %s", self.stack.log_path)
                break
        self.signal_name = ""  # ending --keep is the normal end, not an interruption
        self.result.interrupted_by = ""
        self.keep_ended = True
