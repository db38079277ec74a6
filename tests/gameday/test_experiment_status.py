"""The game day's progress line for one experiment follows the runner's events (it is a
listener, it does not read the runner's insides): phase, method step, the fault that is on."""

from __future__ import annotations

from pathlib import Path

from chaos.faults.base import FaultPlan
from chaos.faults.injector import UndoOutcome
from chaos.ledger import Entry
from chaos.probes.env import FaultWindow
from chaos.runner.events import FaultEnded, FaultStarted, PhaseChanged, RunEvents
from gameday.run.experiment_phase import ExperimentPhase

NOW = 1_800_000_000.0


def test_status_follows_the_runs_events(tmp_path: Path) -> None:
    phase = ExperimentPhase("payments-breaker", tmp_path / "x.yaml", tmp_path, tmp_path, 3)
    events = RunEvents()
    phase.listen(events)
    assert phase.status(NOW) == "starting"
    events.phase_changed.fire(PhaseChanged("warm-up"))
    assert phase.status(NOW) == "warming up its probe load"
    events.phase_changed.fire(PhaseChanged("method", 2, 4, "kill-payments"))
    assert phase.status(NOW) == "method step 2/4: kill-payments"
    window = FaultWindow("kill-replica-1", "kill-replica", "kill-payments", ["payments-1"],
                         NOW - 5, planned_end=NOW + 20)
    entry = Entry(fault_id="kill-replica-1", name="kill-replica", targets=["payments-1"],
                  params={}, started_at=NOW - 5, expires_at=NOW + 20)
    plan = FaultPlan("kill-replica", "COUNT(1)", 3, 25.0, {}, ["payments-1"], ["payments-1"])
    events.fault_started.fire(FaultStarted(window, entry, plan))
    assert phase.status(NOW) == ("method step 2/4: kill-payments · fault kill-payments on "
                                 "payments-1 (20 s left)")
    events.phase_changed.fire(PhaseChanged("waiting-for-faults"))
    assert phase.status(NOW).startswith("waiting for the faults to end · fault kill-payments")
    events.fault_ended.fire(FaultEnded(window, UndoOutcome("kill-replica-1", "kill-replica",
                                                           ["payments-1"], "undone", "ok")))
    events.phase_changed.fire(PhaseChanged("steady-state-after"))
    assert phase.status(NOW) == "steady state after: checking the shop recovered"
    events.phase_changed.fire(PhaseChanged("report"))
    assert phase.status(NOW) == "writing its report"
