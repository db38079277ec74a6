"""Run one experiment (or its negative control) end to end.

1. start the load and wait for it to place orders (warm-up, with a deadline): the steady
   state is the shop under its normal load (a stream-jam alarm needs traffic to be OK);
2. the monitoring the checks read is in place (a deleted or disabled alarm fails the checks
   that need it, nothing is injected), then the steady state before (hypothesis probes; not
   met → the run errors, nothing is injected);
3. method: the control's `before-method` steps (protection off) then the method's steps;
   faults end on schedule (scheduler), guards watch the stop conditions (breach → abort);
4. wait for every fault to end, then the steady state after (probes with `within` wait);
5. always: roll back (end every fault of this run, then the rollback steps), stop the load and
   let its orders settle, stop sampling;
6. numbers and verdicts, the outcome (outcome.py), then journal.json, report.html, junit.xml.

This module only puts the phases in order. The parts: `steps.py` carries out a step through
the activity wrapper (`activities.py`), `load_control.py` the load, `scheduler.py` ends faults
on time, `guards.py` watches the stop conditions, `events.py` tells listeners (`listeners.py`:
journal, Grafana; the game day's progress line) where the run is.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.context import ChaosContext
from chaos.exceptions import ChaosError
from chaos.faults.injector import Injector
from chaos.probes import alarms, processes
from chaos.probes.env import ProbeEnv
from chaos.probes.timeline import Sampler, Timeline
from chaos.report.journal import Journal
from chaos.runner import events as phases
from chaos.runner.activities import Activities
from chaos.runner.controls import Controls
from chaos.runner.events import FaultEnded, PhaseChanged, RunEvents
from chaos.runner.guards import Guards
from chaos.runner.listeners import GrafanaAnnotations, JournalFaults
from chaos.runner.load_control import LoadControl
from chaos.runner.outcome import ABORTED, FAILED, RunResult, decide, journal_status
from chaos.runner.outputs import write_outputs
from chaos.runner.plan import build_plan, method_steps, step_seed
from chaos.runner.scheduler import FaultScheduler
from chaos.runner.signals import interrupt_on_signals
from chaos.runner.state import RunState
from chaos.runner.steps import Steps
from chaos.spec.loader import Experiment
from chaos.targets import new_seed
from chaos.verdicts import (
    Observations,
    Verdict,
    error_budget_verdict,
    evaluate,
    standard_numbers,
)

log = logging.getLogger("chaos.runner")

START_LOAD = {"type": "action", "name": "start-load", "action": "start-load"}
STOP_LOAD = {"type": "action", "name": "stop-load", "action": "stop-load"}
END_FAULTS = {"type": "action", "name": "end-faults", "action": "cleanup"}
ROLLBACK_STEP_TYPES = ("action", "probe", "pause")
FAULT_END_SLACK_S = 30.0  # how long past its planned end a fault may take to be undone


@dataclass
class RunOptions:
    seed: int | None = None
    control: bool = False
    out_dir: Path | None = None
    grafana: Any = None  # chaos.report.grafana.GrafanaClient
    handle_signals: bool = True


class ExperimentRunner:
    """One run; `events` may be listened to before `run()`, `interrupt()` stops it."""

    def __init__(self, experiment: Experiment, ctx: ChaosContext,
                 options: RunOptions | None = None) -> None:
        experiment = experiment.for_target(ctx.target)  # its bounds on this target
        self.experiment = experiment
        self.options = options or RunOptions()
        seed = self.options.seed if self.options.seed is not None else \
            experiment.data.get("seed", new_seed())
        variant = "control" if self.options.control else "experiment"
        run_id = f"run-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.out_dir = self.options.out_dir or (ctx.state_dir / "runs" / run_id)
        self.events = RunEvents()
        self.journal = Journal(run_id, experiment.data, variant, seed)
        self.state = RunState(run_id, seed, variant, ProbeEnv(ctx=ctx, started_at=time.time()),
                              self.journal, self.events)
        self.injector = Injector(ctx)
        observe = experiment.observe
        self.timeline = Timeline()
        self.sampler = Sampler(ctx, self.timeline, observe.interval.seconds,
                               list(observe.breakers), list(observe.alarms),
                               list(observe.iterator_age), list(observe.services))
        self.scheduler = FaultScheduler(self.injector, on_end=lambda window, outcome:
                                        self.events.fault_ended.fire(FaultEnded(window, outcome)))
        self.load = LoadControl(experiment.load, ctx, seed, self.out_dir, self.state.env,
                                self.state.abort)
        self.activities = Activities(self.journal, self.state.abort)
        self.steps = Steps(self.state, self.activities, self.injector, self.scheduler,
                           Controls(ctx, seed, self.load, self.scheduler))
        JournalFaults(self.journal).listen(self.events)
        if self.options.grafana is not None:
            GrafanaAnnotations(self.options.grafana, experiment.title, variant).listen(
                self.events)

    @property
    def run_id(self) -> str:
        return self.state.run_id

    def interrupt(self) -> None:
        """Stop where the run is and roll back (safe from a signal handler)."""
        self.state.interrupt()

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        state = self.state
        stop = self.experiment.stop_conditions
        guards = Guards(state.env, list(stop.guards), stop.interval.seconds, state.abort)
        with interrupt_on_signals(self.options.handle_signals, self.interrupt):
            run_start = time.time()
            self.journal.set("plan", build_plan(self.experiment, state.env.ctx, state.seed,
                                                self.options.control))
            self.sampler.start()
            try:
                self._conduct(guards)
            except ChaosError as exc:
                state.error_reason = f"{type(exc).__name__}: {exc}"
                log.error("run %s: %s", state.run_id, state.error_reason)
                state.add_verdict(Verdict("the method was carried out", "injection",
                                          str(exc), "every step done", False))
            finally:
                self._wind_down(guards)
        return self._finish(run_start, guards)

    def _phase(self, phase: str, step: int = 0, steps: int = 0, label: str = "") -> None:
        self.events.phase_changed.fire(PhaseChanged(phase, step, steps, label))

    def _conduct(self, guards: Guards) -> None:
        abort = self.state.abort
        if self.load.config.runs:
            self._phase(phases.WARM_UP)
            self.activities.run("run", START_LOAD, self.load.start_and_warm_up)
        self._phase(phases.STEADY_STATE_BEFORE)
        if not self.steps.monitoring_in_place(self.experiment.data):
            return  # failed: the detection checks have no alarm to read (outcome.py)
        if not self._hypothesis("before"):
            self.state.error_reason = "the steady state was not met before the method"
            return
        guards.start()
        self._method()
        if not abort.is_set():
            self._phase(phases.WAITING_FOR_FAULTS)
            self.scheduler.wait_all(self._max_fault_wait(), abort)
        if not abort.is_set():
            self._phase(phases.STEADY_STATE_AFTER)
            self._hypothesis("after")

    def _wind_down(self, guards: Guards) -> None:
        """Always: stop the guards, roll back, stop the load, take the last sample."""
        guards.stop()
        for breach in guards.breaches:
            self.journal.append("during", {"breach": breach})
            self.state.add_verdict(Verdict(
                f"stop condition {breach['name']}", "stop-condition",
                breach["observed"], breach["expected"], False, "breached: aborted"))
        self._phase(phases.ROLLBACK)
        self._rollback()
        if self.load.needs_stopping():
            self._phase(phases.SETTLE)
            self.activities.run("run", STOP_LOAD, lambda: self.load.stop_and_settle(
                settle=not self.state.interrupted))
        self.sampler.stop()
        # one last sample: the timeline ends in the state the steady state after just saw
        # (a recovery the hypothesis saw between two ticks is then still timed)
        self.sampler.sample_once()
        self.scheduler.close()

    # -- steady state and method ------------------------------------------------------------
    def _hypothesis(self, phase: str) -> bool:
        hypothesis = self.experiment.data["steady-state-hypothesis"]
        probes = list(hypothesis["probes"])
        if phase == "after":
            probes += hypothesis.get("after") or []
        met = True
        for probe in probes:
            ok = self.steps.probe({"type": "probe", **probe}, phase, f"hypothesis-{phase}")
            met = met and ok
            if self.state.abort.is_set():
                break
        self.journal.steady_state_met(phase, met)
        return met

    def _method(self) -> None:
        control = self.options.control
        switches = len(self.experiment.control.before_method) if control else 0
        steps = method_steps(self.experiment, control)
        for index, step in enumerate(steps):
            if self.state.abort.is_set():
                log.warning("aborting the method before step %d", index + 1)
                return
            self._phase(phases.METHOD, index + 1, len(steps), step.get("name") or step["type"])
            self.steps.run(step, "run", step_seed(self.state.seed, index),
                           "protection" if index < switches else "fault")

    def _max_fault_wait(self) -> float:
        now = time.time()
        ends = [w.planned_end or now for w in self.state.env.faults
                if w.end is None and w.role == "fault"]
        return max(0.0, max(ends, default=now) - now) + FAULT_END_SLACK_S

    # -- rollback ---------------------------------------------------------------------------
    def _rollback(self) -> None:
        """End every fault of this run (the scheduler's, then any the ledger still holds for
        it), then the rollback steps — each attempted, whatever the others did."""
        def end_faults() -> dict[str, Any]:
            open_before = [w.fault_id for w in self.scheduler.open_windows()]
            self.scheduler.end_all()
            leftovers = [e.fault_id for e in self.injector.ledger.active()
                         if e.run_id == self.state.run_id]
            for fault_id in leftovers:
                self.injector.undo(fault_id, by_owner=True)
            return {"ended": open_before + leftovers}

        self.activities.run("rollbacks", END_FAULTS, end_faults)
        for step in self.experiment.data.get("rollbacks") or []:
            if step["type"] not in ROLLBACK_STEP_TYPES:
                log.warning("rollback step %s: a %s is not run in the rollbacks",
                            step.get("name"), step["type"])
                continue
            try:
                self.steps.run(step, "rollbacks")
            except Exception as exc:  # noqa: BLE001 - roll back as much as possible
                log.error("rollback step %s failed: %s", step.get("name"), exc)

    # -- verdicts and outputs ---------------------------------------------------------------
    def observations(self, run_start: float) -> Observations:
        snapshot = self.timeline.to_dict()
        changes = dict(snapshot["alarm_changes"])
        env = self.state.env
        first_fault = env.first_fault_start()
        for name in self.experiment.observe.alarms:
            history = alarms.alarm_history(env.ctx, name, since=first_fault or run_start,
                                           fresh_since=first_fault)
            if history:
                changes[name] = [(t.ts, t.new) for t in history]
        return Observations(
            run_start=run_start, run_end=time.time(),
            faults=[w.to_dict() for w in env.faults],
            series=snapshot["series"], alarm_changes=changes,
            records=self.load.records,
            orders=self.load.orders_summary,
            events=processes.events(env.ctx, since=run_start),
            probes=self.state.probe_outputs,
        )

    def _finish(self, run_start: float, guards: Guards) -> RunResult:
        state, journal = self.state, self.journal
        obs = self.observations(run_start)
        budget = self.experiment.error_budget.ratio
        numbers = standard_numbers(obs, self.experiment.observe.targets(), budget)
        ran_method = bool(journal.data["run"]) and not state.error_reason
        if ran_method and not state.interrupted:
            for spec in self.experiment.data.get("verdicts") or []:
                state.add_verdict(evaluate(spec, obs))
            budget_verdict = error_budget_verdict(obs, budget)
            if budget_verdict is not None:
                state.add_verdict(budget_verdict)
        outcome = decide(state.interrupted, state.error_reason, bool(guards.breaches),
                         state.verdicts)
        journal.set("numbers", numbers)
        journal.set("verdicts", [v.to_dict() for v in state.verdicts])
        journal.set("timeline", self.timeline.to_dict())
        journal.set("load", self.load.record(obs))
        journal.set("outcome", outcome)
        journal.set("reason", state.error_reason)
        journal.set("deviated", outcome in (FAILED, ABORTED))
        journal.finish(journal_status(outcome))
        self._phase(phases.REPORT)
        control = self.options.control
        expect = list(self.experiment.control.expect_failing) if control else []
        result = RunResult(state.run_id, self.experiment.title, state.variant, outcome,
                           state.verdicts, numbers, self.out_dir, state.error_reason,
                           expect_failing=expect, started_at=journal.data["start_ts"],
                           ended_at=journal.data["end_ts"], observations=obs)
        if control:
            journal.set("control", {"expect_failing": expect,
                                    "did_not_fail": result.failed_as_expected(),
                                    "conclusive": result.conclusive_control})
        result.files = write_outputs(journal, self.out_dir)
        self.events.run_finished.fire(result)
        return result
