"""Run one experiment (or its negative control) end to end.

1. start the load and wait for it to place orders (warm-up, with a deadline): the steady
   state is the shop under its normal load (a stream-jam alarm needs traffic to be OK);
2. steady state before (hypothesis probes; not met → the run errors, nothing is injected);
3. method: the control's `before-method` steps (protection off) then the method's steps;
   faults end on schedule (scheduler), guards watch the stop conditions (breach → abort);
4. wait for every fault to end, then the steady state after (probes with `within` wait);
5. stop the load, let its orders settle, count duplicates;
6. always: roll back (end every fault of this run, then the rollback steps), stop sampling;
7. numbers and verdicts, then journal.json, report.html and junit.xml.

Outcome: passed | failed (a verdict or the hypothesis after failed) | aborted (a stop
condition) | error (an injection/action failed, the steady state before was not met: says
nothing about the protection) | interrupted. A control run is conclusive only when it failed
or aborted with every injection in place.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.actions import ACTIONS
from chaos.context import ChaosContext
from chaos.durations import parse_duration
from chaos.exceptions import ActionFailed, ChaosError, InjectionFailed, StepError
from chaos.faults.injector import Injector, UndoOutcome
from chaos.load.builtin import BuiltinLoad, discover_skus
from chaos.load.locust_driver import LocustLoad
from chaos.probes import alarms, orders, processes
from chaos.probes.catalog import PROBES
from chaos.probes.env import FaultWindow, ProbeEnv
from chaos.probes.timeline import Sampler, Timeline
from chaos.probes.waiting import wait_until
from chaos.report.journal import Journal
from chaos.runner.guards import Guards
from chaos.runner.plan import build_plan, method_steps, step_seed
from chaos.runner.scheduler import FaultScheduler
from chaos.spec.loader import Experiment
from chaos.targets import new_seed
from chaos.variables import substitute
from chaos.verdicts import (
    Observations,
    Verdict,
    describe_tolerance,
    evaluate,
    judge,
    standard_numbers,
)

log = logging.getLogger("chaos.runner")

PASSED, FAILED, ABORTED, ERROR, INTERRUPTED = "passed", "failed", "aborted", "error", \
    "interrupted"


@dataclass
class RunOptions:
    seed: int | None = None
    control: bool = False
    out_dir: Path | None = None
    grafana: Any = None  # chaos.report.grafana.GrafanaClient
    handle_signals: bool = True


@dataclass
class RunResult:
    run_id: str
    title: str
    variant: str
    outcome: str
    verdicts: list[Verdict]
    numbers: dict[str, Any]
    out_dir: Path
    reason: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    expect_failing: list[str] = field(default_factory=list)

    def failed_as_expected(self) -> list[str]:
        """The control's `expect-failing` checks (verdict metrics or step names) that did not
        fail — empty when every one of them failed."""
        def failed(item: str) -> bool:
            return any(not v.passed and (v.metric == item or v.title == item
                                         or v.title.endswith(f": {item}"))
                       for v in self.verdicts)
        return [item for item in self.expect_failing if not failed(item)]

    @property
    def conclusive_control(self) -> bool:
        """A control proves its protection only by failing with every fault in place, on the
        checks the protection is there for (`expect-failing`), not on something else."""
        return self.outcome in (FAILED, ABORTED) and not self.failed_as_expected()

    @property
    def exit_code(self) -> int:
        if self.variant == "control":
            return 0 if self.conclusive_control else 1
        return 0 if self.outcome == PASSED else 1


class ExperimentRunner:
    def __init__(self, experiment: Experiment, ctx: ChaosContext,
                 options: RunOptions | None = None) -> None:
        self.experiment = experiment
        self.data = experiment.data
        self.ctx = ctx
        self.options = options or RunOptions()
        self.seed = self.options.seed if self.options.seed is not None else \
            self.data.get("seed", new_seed())
        self.variant = "control" if self.options.control else "experiment"
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.run_id = f"run-{stamp}-{uuid.uuid4().hex[:6]}"
        self.out_dir = self.options.out_dir or (ctx.state_dir / "runs" / self.run_id)
        self.abort = threading.Event()
        self.interrupted = False
        self.env = ProbeEnv(ctx=ctx, started_at=time.time())
        self.injector = Injector(ctx)
        self.journal = Journal(self.run_id, self.data, self.variant, self.seed)
        self.timeline = Timeline()
        observe = self.data.get("observe") or {}
        self.sampler = Sampler(
            ctx, self.timeline, parse_duration(observe.get("interval", "0.5s")),
            observe.get("breakers"), observe.get("alarms"), observe.get("iterator-age"),
            observe.get("services"),
        )
        self.scheduler = FaultScheduler(self.injector, on_end=self._fault_ended)
        self.verdicts: list[Verdict] = []
        self.probe_outputs: dict[str, Any] = {}
        self.load: BuiltinLoad | LocustLoad | None = None
        self.orders_summary: dict[str, Any] | None = None
        self.grafana_ids: dict[str, Any] = {}
        self.error_reason = ""

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        previous = self._install_signals()
        run_start = time.time()
        self.journal.set("plan", build_plan(self.experiment, self.ctx, self.seed,
                                            self.options.control))
        self.sampler.start()
        guards: Guards | None = None
        try:
            self._start_load_and_warm_up()
            if not self._hypothesis("before"):
                self.error_reason = "the steady state was not met before the method"
            else:
                stop = self.data.get("stop-conditions") or {}
                guards = Guards(self.env, stop.get("guards") or [],
                                parse_duration(stop.get("interval", "1s")), self.abort)
                guards.start()
                self._method()
                if not self.abort.is_set():
                    self.scheduler.wait_all(self._max_fault_wait(), self.abort)
                if not self.abort.is_set():
                    self._hypothesis("after")
        except ChaosError as exc:
            self.error_reason = f"{type(exc).__name__}: {exc}"
            log.error("run %s: %s", self.run_id, self.error_reason)
            self.verdicts.append(Verdict("the method was carried out", "injection",
                                         str(exc), "every step done", False))
        finally:
            if guards is not None:
                guards.stop()
                for breach in guards.breaches:
                    self.journal.append("during", {"breach": breach})
                    self.verdicts.append(Verdict(
                        f"stop condition {breach['name']}", "stop-condition",
                        breach["observed"], breach["expected"], False, "breached: aborted"))
            self._rollback()
            self._stop_load_and_settle()
            self.sampler.stop()
            # one last sample: the timeline ends in the state the steady state after just saw
            # (a recovery the hypothesis saw between two ticks is then still timed)
            self.sampler.sample_once()
            self.scheduler.close()
            self._restore_signals(previous)
        return self._finish(run_start, guards)

    # -- steady state -----------------------------------------------------------------------
    def _hypothesis(self, phase: str) -> bool:
        hypothesis = self.data["steady-state-hypothesis"]
        probes = list(hypothesis["probes"])
        if phase == "after":
            probes += hypothesis.get("after") or []
        met = True
        for probe in probes:
            ok = self._probe({"type": "probe", **probe}, phase, f"hypothesis-{phase}")
            met = met and ok
            if self.abort.is_set():
                break
        self.journal.steady_state_met(phase, met)
        return met

    def _probe(self, step: dict[str, Any], section: str, kind: str) -> bool:
        probe = PROBES.get(step["probe"])
        params = substitute(step.get("params") or {}, self.env.vars)
        tolerance = step.get("tolerance")
        activity = self.journal.activity(section, {**step, "params": params})
        within = parse_duration(step["within"]) if "within" in step else 0.0
        interval = parse_duration(step.get("interval", "0.25s"))
        result = wait_until(lambda: probe.fn(self.env, params),
                            lambda v: judge(v, tolerance), within, interval, self.abort)
        activity.finish("succeeded" if result.ok else "failed", result.value,
                        tolerance_met=result.ok, waited_s=round(result.elapsed_s, 3),
                        attempts=result.attempts, error=result.error)
        self.probe_outputs[step["name"]] = result.value
        if "save-as" in step:
            self.env.vars[step["save-as"]] = result.value
        if tolerance is not None or kind.startswith("hypothesis"):
            expected = describe_tolerance(tolerance or {})
            if within:
                expected += f" within {step['within']}"
            detail = result.error or ("aborted" if result.aborted else "")
            self.verdicts.append(Verdict(f"{kind}: {step['name']}", kind, result.value,
                                         expected, result.ok, detail))
        return result.ok

    # -- load -------------------------------------------------------------------------------
    def start_load(self) -> dict[str, Any]:
        if self.load is not None:
            return {"already_running": True}
        cfg = self.data.get("load") or {}
        driver = cfg.get("driver", "none")
        if driver == "none":
            return {"driver": "none"}
        storefront = self.ctx.url("storefront")
        if driver == "locust":
            self.load = LocustLoad(storefront, cfg.get("locustfile", "loadtests/locustfile.py"),
                                   int(cfg.get("users", 3)), float(cfg.get("spawn-rate", 3)),
                                   self.out_dir)
        else:
            skus = discover_skus(self.ctx)
            if not skus:
                raise StepError("no product with stock for the load to order")
            self.load = BuiltinLoad(storefront, skus, int(cfg.get("users", 3)),
                                    parse_duration(cfg.get("think-time", "0.2s")), self.seed,
                                    browse=bool(cfg.get("browse", True)))
        self.env.load = self.load
        self.load.start()
        return {"driver": driver, "users": cfg.get("users", 3)}

    def stop_load(self) -> dict[str, Any]:
        if self.load is None:
            return {"running": False}
        self.load.stop()
        return self.load.summary()

    def _start_load_and_warm_up(self) -> None:
        cfg = self.data.get("load") or {}
        if cfg.get("driver", "none") == "none":
            return
        activity = self.journal.activity("run", {"type": "action", "name": "start-load",
                                                 "action": "start-load"})
        output = self.start_load()
        wanted = int(cfg.get("warmup-orders", 3))
        if isinstance(self.load, BuiltinLoad) and wanted:
            result = wait_until(lambda: len(self.load.placed()), lambda n: n >= wanted,
                                parse_duration(cfg.get("warmup-timeout", "30s")), 0.25,
                                self.abort)
            output["warmup_orders"] = result.value
            if not result.ok:
                activity.finish("failed", output)
                raise StepError(f"the load placed {result.value} of {wanted} warm-up orders "
                                f"within {cfg.get('warmup-timeout', '30s')}")
        activity.finish("succeeded", output)

    def settle_orders(self, timeout: Any = None) -> dict[str, Any]:
        """Wait (bounded) for the load's orders to reach COMPLETED/CANCELLED; count duplicates
        and orders created without a 202 reaching the client."""
        if not isinstance(self.load, BuiltinLoad):
            return {}
        cfg = self.data.get("load") or {}
        timeout_s = parse_duration(timeout or cfg.get("settle-timeout", "30s"))
        placed = self.load.placed()
        by_status = orders.settle(self.ctx.url("storefront"), placed, timeout_s)
        summary: dict[str, Any] = {"accepted": len(placed), "by_status": by_status}
        try:
            owners = {o.shopper_id for o in placed}
            rows = orders.orders_of_owners(self.ctx, owners)
            accepted_ids = {o.order_id for o in placed}
            summary["duplicates"] = orders.duplicates(rows)
            summary["unacknowledged"] = sum(1 for rs in rows.values() for r in rs
                                            if r["order_id"] not in accepted_ids)
        except Exception as exc:  # noqa: BLE001 - the table scan is extra evidence
            log.warning("could not scan the orders table: %s", exc)
            summary["duplicates"] = len(placed) - len({o.order_id for o in placed})
        self.orders_summary = summary
        return summary

    def _stop_load_and_settle(self) -> None:
        if self.load is None or (self.load.stopped_at and self.orders_summary is not None):
            return
        activity = self.journal.activity("run", {"type": "action", "name": "stop-load",
                                                 "action": "stop-load"})
        summary = self.stop_load()
        if self.orders_summary is None and not self.interrupted:
            summary["orders"] = self.settle_orders()
        activity.finish("succeeded", summary)

    # -- method -----------------------------------------------------------------------------
    def _method(self) -> None:
        switches = len((self.data.get("control") or {}).get("before-method") or []) \
            if self.options.control else 0
        for index, step in enumerate(method_steps(self.experiment, self.options.control)):
            if self.abort.is_set():
                log.warning("aborting the method before step %d", index + 1)
                return
            kind = step["type"]
            if kind == "fault":
                self._fault(step, step_seed(self.seed, index),
                            "protection" if index < switches else "fault")
            elif kind == "probe":
                self._probe(step, "run", "method-probe")
            elif kind == "pause":
                activity = self.journal.activity("run", step)
                self.abort.wait(parse_duration(step["duration"]))
                activity.finish("succeeded")
            elif kind == "wait-for-faults":
                activity = self.journal.activity("run", step)
                ok = self.scheduler.wait_all(parse_duration(step.get("timeout", "60s")),
                                             self.abort)
                activity.finish("succeeded" if ok else "failed")
            else:
                self._action(step)

    def _fault(self, step: dict[str, Any], seed: int, role: str = "fault") -> None:
        params = substitute(step.get("params") or {}, self.env.vars)
        activity = self.journal.activity("run", {**step, "params": params, "seed": seed})
        try:
            plan = self.injector.plan(step["fault"], step.get("target", "ALL"), params,
                                      parse_duration(step["duration"]), seed)
            entry = self.injector.inject(plan, run_id=self.run_id)
        except Exception as exc:
            activity.finish("failed", None, exception=f"{type(exc).__name__}: {exc}")
            raise InjectionFailed(f"fault step {step['name']}: {exc}") from exc
        window = FaultWindow(entry.fault_id, entry.name, step["name"], entry.targets,
                             entry.started_at, planned_end=entry.expires_at, role=role)
        self.env.faults.append(window)
        self.scheduler.add(window)
        self.journal.append("faults", {"entry": entry.to_dict(), "plan": plan.to_dict()})
        self._annotate_start(window)
        activity.finish("succeeded", {"fault_id": entry.fault_id, "targets": entry.targets,
                                      "expires_at": entry.expires_at, "effects": plan.effects})
        if step.get("wait"):
            self.scheduler.wait_all(plan.duration_s + 30, self.abort)

    def _action(self, step: dict[str, Any]) -> None:
        params = substitute(step.get("params") or {}, self.env.vars)
        activity = self.journal.activity("run", {**step, "params": params})
        try:
            output = ACTIONS.get(step["action"])(self, params)
        except Exception as exc:
            activity.finish("failed", None, exception=f"{type(exc).__name__}: {exc}")
            raise ActionFailed(f"action {step['name']}: {exc}") from exc
        if "save-as" in step:
            self.env.vars[step["save-as"]] = output
        activity.finish("succeeded", output)

    def _max_fault_wait(self) -> float:
        ends = [w.planned_end or time.time() for w in self.env.faults
                if w.end is None and w.role == "fault"]
        return max(0.0, max(ends, default=time.time()) - time.time()) + 30.0

    # -- rollback ---------------------------------------------------------------------------
    def _rollback(self) -> None:
        activity = self.journal.activity("rollbacks", {"type": "action", "name": "end-faults",
                                                       "action": "cleanup"})
        open_before = [w.fault_id for w in self.scheduler.open_windows()]
        self.scheduler.end_all()
        leftovers = [e.fault_id for e in self.injector.ledger.active()
                     if e.run_id == self.run_id]
        for fault_id in leftovers:
            self.injector.undo(fault_id, by_owner=True)
        activity.finish("succeeded", {"ended": open_before + leftovers})
        for step in self.data.get("rollbacks") or []:
            try:
                if step["type"] == "action":
                    self._action(step)
                elif step["type"] == "probe":
                    self._probe(step, "rollbacks", "rollback-probe")
                elif step["type"] == "pause":
                    time.sleep(min(parse_duration(step["duration"]), 30.0))
            except Exception as exc:  # noqa: BLE001 - roll back as much as possible
                log.error("rollback step %s failed: %s", step.get("name"), exc)

    def _fault_ended(self, window: FaultWindow, outcome: UndoOutcome) -> None:
        self.journal.append("faults", {"ended": window.to_dict(), "undo": outcome.detail})
        self._annotate_end(window)

    # -- grafana ----------------------------------------------------------------------------
    def _annotate_start(self, window: FaultWindow) -> None:
        grafana = self.options.grafana
        if grafana is None:
            return
        try:
            self.grafana_ids[window.fault_id] = grafana.annotate(
                window.start, window.planned_end or window.start,
                ["chaos", window.name, self.variant],
                f"{self.data['title']}: {window.name} on {', '.join(window.targets)} "
                f"({window.fault_id})")
        except Exception as exc:  # noqa: BLE001 - annotations never fail a run
            log.warning("grafana annotation failed: %s", exc)

    def _annotate_end(self, window: FaultWindow) -> None:
        grafana = self.options.grafana
        annotation = self.grafana_ids.get(window.fault_id)
        if grafana is None or annotation is None or window.end is None:
            return
        try:
            grafana.set_end(annotation, window.end)
        except Exception as exc:  # noqa: BLE001
            log.warning("grafana annotation update failed: %s", exc)

    # -- signals ----------------------------------------------------------------------------
    def _install_signals(self) -> dict[int, Any]:
        if not self.options.handle_signals or \
                threading.current_thread() is not threading.main_thread():
            return {}

        def stop(signum: int, _frame: Any) -> None:
            log.warning("%s: stopping the run and rolling back", signal.Signals(signum).name)
            self.interrupted = True
            self.abort.set()

        return {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    # -- verdicts and outputs ---------------------------------------------------------------
    def observations(self, run_start: float) -> Observations:
        snapshot = self.timeline.to_dict()
        changes = dict(snapshot["alarm_changes"])
        first_fault = self.env.first_fault_start()
        for name in (self.data.get("observe") or {}).get("alarms", []):
            history = alarms.alarm_history(self.ctx, name, since=first_fault or run_start)
            if history:
                changes[name] = [(t.ts, t.new) for t in history]
        recorder = getattr(self.load, "recorder", None)
        return Observations(
            run_start=run_start, run_end=time.time(),
            faults=[w.to_dict() for w in self.env.faults],
            series=snapshot["series"], alarm_changes=changes,
            records=recorder.snapshot() if recorder is not None else None,
            orders=self.orders_summary,
            events=processes.events(self.ctx, since=run_start),
            probes=self.probe_outputs,
        )

    def _finish(self, run_start: float, guards: Guards | None) -> RunResult:
        obs = self.observations(run_start)
        numbers = standard_numbers(obs, self.data.get("observe") or {})
        ran_method = bool(self.journal.data["run"]) and not self.error_reason
        if ran_method and not self.interrupted:
            for spec in self.data.get("verdicts") or []:
                self.verdicts.append(evaluate(spec, obs))
        if self.interrupted:
            outcome = INTERRUPTED
        elif self.error_reason:
            outcome = ERROR
        elif guards is not None and guards.breaches:
            outcome = ABORTED
        elif all(v.passed for v in self.verdicts):
            outcome = PASSED
        else:
            outcome = FAILED
        self.journal.set("numbers", numbers)
        self.journal.set("verdicts", [v.to_dict() for v in self.verdicts])
        self.journal.set("timeline", self.timeline.to_dict())
        self.journal.set("load", self._load_record(obs))
        self.journal.set("outcome", outcome)
        self.journal.set("reason", self.error_reason)
        self.journal.set("deviated", outcome in (FAILED, ABORTED))
        self.journal.finish(outcome if outcome in (INTERRUPTED, ABORTED) else
                            "completed" if outcome in (PASSED, FAILED) else "failed")
        expect = (self.data.get("control") or {}).get("expect-failing", []) \
            if self.options.control else []
        result = RunResult(self.run_id, self.data["title"], self.variant, outcome,
                           self.verdicts, numbers, self.out_dir, self.error_reason,
                           expect_failing=list(expect))
        if self.options.control:
            self.journal.set("control", {"expect_failing": expect,
                                         "did_not_fail": result.failed_as_expected(),
                                         "conclusive": result.conclusive_control})
        result.files = self._write_outputs(obs)
        return result

    def _load_record(self, obs: Observations) -> dict[str, Any]:
        from chaos.load.records import per_second

        if self.load is None:
            return {"driver": "none"}
        record: dict[str, Any] = {"summary": self.load.summary()}
        if obs.records is not None:
            record["per_second"] = per_second(obs.records, obs.run_start, obs.run_end)
        return record

    def _write_outputs(self, obs: Observations) -> dict[str, Path]:
        from chaos.report.html import write_html
        from chaos.report.junit import write_junit

        files = {"journal": self.journal.write(self.out_dir)}
        try:
            files["html"] = write_html(self.journal.data, self.out_dir / "report.html")
        except Exception:  # noqa: BLE001 - a report bug must not hide the verdicts
            log.exception("could not write the HTML report")
        files["junit"] = write_junit(self.journal.data, self.out_dir / "junit.xml")
        return files
