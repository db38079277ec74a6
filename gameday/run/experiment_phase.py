"""One experiment of the game day: `chaos.runner.run.ExperimentRunner` against the running
stack (its own probe load, faults, probes, verdicts, journal.json / report.html / junit.xml in
the report's `experiments/<name>/`), boiled down to a summary row.

`ExperimentPhase.interrupt()` is safe from a signal handler: the runner stops where it is,
rolls back (ends its faults) and reports `interrupted`. `status()` tells the progress line
where the run is (steady state, which method step, which fault is on and for how long), from
what it heard as a listener of the runner's events (`chaos.runner.events`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.run import headline
from gameday.run.results import ERROR, Check, ErrorBudget, ExperimentSummary

if TYPE_CHECKING:
    from chaos.probes.env import FaultWindow
    from chaos.runner.events import FaultEnded, FaultStarted, PhaseChanged, RunEvents
    from chaos.runner.outcome import RunResult
    from chaos.runner.run import ExperimentRunner

log = logging.getLogger("gameday.run.experiment")

# the progress line's words for each phase of a run (chaos.runner.events)
PHASE_TEXT = {
    "warm-up": "warming up its probe load",
    "steady-state-before": "steady state before: checking the shop is healthy",
    "waiting-for-faults": "waiting for the faults to end",
    "steady-state-after": "steady state after: checking the shop recovered",
    "rollback": "rolling back: ending its faults",
    "settle": "stopping its probe load, settling its orders",
    "report": "writing its report",
}


class ExperimentPhase:
    """Runs one experiment file; `summary` is set when it is done."""

    def __init__(self, name: str, path: Path, state_dir: Path, report_dir: Path,
                 seed: int, ctx: Any = None) -> None:
        self.name = name
        self.ctx = ctx  # a chaos.context.ChaosContext (the aws target's); None: the state dir
        self.path = path
        self.state_dir = state_dir
        self.report_dir = report_dir
        self.out_dir = report_dir / "experiments" / name
        self.seed = seed
        self.runner: ExperimentRunner | None = None
        self.summary: ExperimentSummary | None = None
        self._interrupted = False
        self._phase: PhaseChanged | None = None
        self._faults: dict[str, FaultWindow] = {}  # open faults (not protection switches)

    # -- running ----------------------------------------------------------------------------
    def run(self) -> ExperimentSummary:
        from chaos.context import ChaosContext
        from chaos.runner.run import ExperimentRunner, RunOptions
        from chaos.spec.loader import load_file

        started = time.time()
        data: dict[str, Any] = {}
        try:
            experiment = load_file(self.path)
            data = experiment.data
            ctx = self.ctx or ChaosContext.load(self.state_dir)
            self.runner = ExperimentRunner(experiment, ctx, RunOptions(
                seed=self.seed, out_dir=self.out_dir, handle_signals=False))
            self.listen(self.runner.events)
            if self._interrupted:  # a signal arrived while the runner was being built
                self.interrupt()
            result = self.runner.run()
        except Exception as exc:  # noqa: BLE001 - one broken experiment must not end the day
            log.exception("experiment %s could not run", self.name)
            self.summary = ExperimentSummary(
                name=self.name, title=data.get("title", self.name), outcome=ERROR,
                seed=self.seed, description=data.get("description", ""),
                started_at=started, ended_at=time.time(),
                reason=f"{type(exc).__name__}: {exc}")
            return self.summary
        self.summary = self._summarize(result, data, started)
        return self.summary

    def interrupt(self) -> None:
        """Stop the run where it is and roll back (called from a signal handler)."""
        self._interrupted = True
        runner = self.runner
        if runner is not None:
            runner.interrupt()

    def _summarize(self, result: RunResult, data: dict[str, Any], started: float
                   ) -> ExperimentSummary:
        numbers = dict(result.numbers)
        accepted, lost, duplicates = headline.orders(numbers)
        files = {}
        for kind, path in result.files.items():
            try:
                files[kind] = str(Path(path).resolve().relative_to(self.report_dir.resolve()))
            except ValueError:
                files[kind] = str(path)
        return ExperimentSummary(
            name=self.name, title=result.title, outcome=result.outcome, seed=self.seed,
            description=" ".join(str(data.get("description", "")).split()),
            started_at=float(result.started_at or started),
            ended_at=float(result.ended_at or time.time()),
            detection=headline.detection(numbers), recovery=headline.recovery(numbers),
            error_budget=ErrorBudget.from_numbers(numbers),
            orders_accepted=accepted, orders_lost=lost, duplicate_orders=duplicates,
            checks=[Check(v.title, _jsonable(v.observed), v.expected, bool(v.passed),
                          v.detail or "", v.metric) for v in result.verdicts],
            reason=result.reason, files=files, numbers=_jsonable(numbers),
        )

    # -- where it is (a listener of the runner's events) -------------------------------------
    def listen(self, events: RunEvents) -> None:
        """Follow a run's phases and faults (for `status()`)."""
        events.phase_changed.add_listener(self._on_phase)
        events.fault_started.add_listener(self._on_fault_started)
        events.fault_ended.add_listener(self._on_fault_ended)

    def _on_phase(self, event: PhaseChanged) -> None:
        self._phase = event

    def _on_fault_started(self, event: FaultStarted) -> None:
        if event.window.role == "fault":
            self._faults[event.window.fault_id] = event.window

    def _on_fault_ended(self, event: FaultEnded) -> None:
        self._faults.pop(event.window.fault_id, None)

    def status(self, now: float | None = None) -> str:
        """A short description of where the run is, for the progress line ('' if unknown)."""
        try:
            return self._status(time.time() if now is None else now)
        except Exception:  # noqa: BLE001 - the progress line must never break the run
            return ""

    def _status(self, now: float) -> str:
        phase = self._phase
        if phase is None:
            return "starting"
        fault_text = ""
        faults = list(self._faults.values())
        if faults:
            w = faults[0]
            left = max(0.0, (w.planned_end or now) - now)
            fault_text = f" · fault {w.step} on {', '.join(w.targets)[:40]} ({left:.0f} s left)"
        if phase.phase == "method":
            return f"method step {phase.step}/{phase.steps}: {phase.label}{fault_text}"
        if phase.phase == "waiting-for-faults":
            return PHASE_TEXT[phase.phase] + fault_text
        return PHASE_TEXT.get(phase.phase, phase.phase)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
