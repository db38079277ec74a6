"""Carrying out one step of an experiment — fault, probe, pause, wait-for-faults or action —
through the activity wrapper, so each lands in the journal the same way. A probe with a
tolerance (and every hypothesis probe) also becomes a verdict; `save-as` keeps a step's
output for later `${...}` references (in parameters and in a probe's tolerance). Before the
steady state, `monitoring_in_place` checks the alarms the experiment's checks read."""

from __future__ import annotations

import logging
from typing import Any

from chaos.actions import ACTIONS, RunControls
from chaos.durations import parse_duration
from chaos.exceptions import ActionFailed, InjectionFailed
from chaos.faults.injector import Injector
from chaos.probes import monitoring
from chaos.probes.catalog import PROBES
from chaos.probes.env import FaultWindow
from chaos.probes.waiting import wait_until
from chaos.runner.activities import FAILED, SUCCEEDED, Activities, ActivityOutcome
from chaos.runner.events import FaultStarted
from chaos.runner.outcome import monitoring_verdicts
from chaos.runner.scheduler import FaultScheduler
from chaos.runner.state import RunState
from chaos.spec.sections import DEFAULT_TARGET, PROBE_INTERVAL, WAIT_FOR_FAULTS_TIMEOUT
from chaos.variables import substitute
from chaos.verdicts import Verdict, describe_tolerance, judge

log = logging.getLogger("chaos.runner.steps")

# how a probe's verdict is labelled, by the journal section it runs in
PROBE_KINDS = {"run": "method-probe", "rollbacks": "rollback-probe"}


class Steps:
    def __init__(self, state: RunState, activities: Activities, injector: Injector,
                 scheduler: FaultScheduler, controls: RunControls) -> None:
        self.state = state
        self.activities = activities
        self.injector = injector
        self.scheduler = scheduler
        self.controls = controls

    def run(self, step: dict[str, Any], section: str, seed: int = 0,
            role: str = "fault") -> None:
        """One step of the method (`section` "run") or of the rollbacks."""
        kind = step["type"]
        if kind == "fault":
            self.fault(step, seed, role)
        elif kind == "probe":
            self.probe(step, section, PROBE_KINDS[section])
        elif kind == "pause":
            self.activities.pause(section, step)
        elif kind == "wait-for-faults":
            self.wait_for_faults(step, section)
        else:
            self.action(step, section)

    # -- probes -----------------------------------------------------------------------------
    def probe(self, step: dict[str, Any], section: str, kind: str) -> bool:
        """Read the probe (until its tolerance holds, for `within`); True when it held."""
        state = self.state
        probe = PROBES.get(step["probe"])
        params = substitute(step.get("params") or {}, state.env.vars)
        # a tolerance may compare with a saved value too (`equals: "${order.correlation_id}"`)
        tolerance = substitute(step.get("tolerance"), state.env.vars)
        within = parse_duration(step["within"]) if "within" in step else 0.0
        interval = parse_duration(step.get("interval", PROBE_INTERVAL))
        waited: list[Any] = []

        def read() -> ActivityOutcome:
            result = wait_until(lambda: probe.fn(state.env, params),
                                lambda v: judge(v, tolerance), within, interval, state.abort)
            waited.append(result)
            return ActivityOutcome(
                SUCCEEDED if result.ok else FAILED, result.value,
                {"tolerance_met": result.ok, "waited_s": round(result.elapsed_s, 3),
                 "attempts": result.attempts, "error": result.error})

        self.activities.run(section, {**step, "params": params}, read)
        result = waited[0]
        state.probe_outputs[step["name"]] = result.value
        if "save-as" in step:
            state.env.vars[step["save-as"]] = result.value
        if tolerance is not None or kind.startswith("hypothesis"):
            expected = describe_tolerance(tolerance or {})
            if within:
                expected += f" within {step['within']}"
            detail = result.error or ("aborted" if result.aborted else "")
            state.add_verdict(Verdict(f"{kind}: {step['name']}", kind, result.value,
                                      expected, result.ok, detail))
        return bool(result.ok)

    # -- monitoring ---------------------------------------------------------------------------
    def monitoring_in_place(self, data: dict[str, Any]) -> bool:
        """Before the steady state: is every alarm the experiment's checks read in place?
        Each check left without one becomes a failed verdict (outcome.monitoring_verdicts);
        False when there is any."""
        checks = monitoring.relied_on(data)
        failed: list[Verdict] = []

        def look() -> ActivityOutcome:
            gaps = monitoring.gaps(self.state.env.ctx,
                                   [alarm for check in checks for alarm in check.alarms])
            failed.extend(monitoring_verdicts(checks, gaps))
            return ActivityOutcome(FAILED if failed else SUCCEEDED, {"gaps": gaps})

        spec = {"type": "probe", "name": "monitoring-in-place", "probe": "monitoring",
                "params": {"alarms": sorted({a for c in checks for a in c.alarms})}}
        self.activities.run("before", spec, look)
        for verdict in failed:
            self.state.add_verdict(verdict)
        return not failed

    # -- faults -----------------------------------------------------------------------------
    def fault(self, step: dict[str, Any], seed: int, role: str = "fault") -> None:
        """Inject (InjectionFailed when it does not land), hand the fault to the scheduler to
        end on time, tell the listeners; with `wait`, wait for it to end."""
        state = self.state
        params = substitute(step.get("params") or {}, state.env.vars)

        def inject() -> dict[str, Any]:
            plan = self.injector.plan(step["fault"], step.get("target", DEFAULT_TARGET), params,
                                      parse_duration(step["duration"]), seed)
            entry = self.injector.inject(plan, run_id=state.run_id)
            window = FaultWindow(entry.fault_id, entry.name, step["name"], entry.targets,
                                 entry.started_at, planned_end=entry.expires_at, role=role)
            state.env.faults.append(window)
            self.scheduler.add(window)
            state.events.fault_started.fire(FaultStarted(window, entry, plan))
            return {"fault_id": entry.fault_id, "targets": entry.targets,
                    "expires_at": entry.expires_at, "effects": plan.effects}

        self.activities.run(
            "run", {**step, "params": params, "seed": seed}, inject,
            failure=lambda message: InjectionFailed(f"fault step {step['name']}: {message}"))
        if step.get("wait"):
            self.scheduler.wait_all(parse_duration(step["duration"]) + 30, state.abort)

    # -- waiting, actions ---------------------------------------------------------------------
    def wait_for_faults(self, step: dict[str, Any], section: str) -> None:
        timeout_s = parse_duration(step.get("timeout", WAIT_FOR_FAULTS_TIMEOUT))

        def wait() -> ActivityOutcome:
            ok = self.scheduler.wait_all(timeout_s, self.state.abort)
            return ActivityOutcome(SUCCEEDED if ok else FAILED)

        self.activities.run(section, step, wait)

    def action(self, step: dict[str, Any], section: str = "run") -> None:
        """Run a registered action (ActionFailed when it raises); `save-as` keeps its output."""
        state = self.state
        params = substitute(step.get("params") or {}, state.env.vars)

        def perform() -> Any:
            output = ACTIONS.get(step["action"])(self.controls, params)
            if "save-as" in step:
                state.env.vars[step["save-as"]] = output
            return output

        self.activities.run(
            section, {**step, "params": params}, perform,
            failure=lambda message: ActionFailed(f"action {step['name']}: {message}"))
