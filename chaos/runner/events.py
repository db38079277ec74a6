"""The run's events, Locust's way: one small typed object of hooks that listeners attach to
(the journal's fault records, Grafana annotations, the game day's progress line), so a new
feature plugs in as a listener instead of patching the runner.

Every hook carries one payload. A listener that raises is logged with its traceback and the
others still run: a broken dashboard or progress line never changes a run's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from chaos.faults.base import FaultPlan
from chaos.faults.injector import UndoOutcome
from chaos.ledger import Entry
from chaos.probes.env import FaultWindow
from chaos.runner.outcome import RunResult
from chaos.verdicts import Verdict

log = logging.getLogger("chaos.runner.events")

T = TypeVar("T")
Listener = Callable[[T], object]

# where a run is, in order (`phase_changed`)
WARM_UP = "warm-up"
STEADY_STATE_BEFORE = "steady-state-before"
METHOD = "method"
WAITING_FOR_FAULTS = "waiting-for-faults"
STEADY_STATE_AFTER = "steady-state-after"
ROLLBACK = "rollback"
SETTLE = "settle"
REPORT = "report"


class EventHook(Generic[T]):
    """Listeners of one event, called in the order they were added."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Listener[T]] = []

    def add_listener(self, listener: Listener[T]) -> Listener[T]:
        """Attach `listener` (returned, so this works as a decorator)."""
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Listener[T]) -> None:
        self._listeners.remove(listener)

    def fire(self, payload: T) -> None:
        """Call every listener with `payload`; an exception is logged, never raised."""
        for listener in list(self._listeners):
            try:
                listener(payload)
            except Exception:  # noqa: BLE001 - a listener never breaks the run
                log.exception("a %s listener (%s) failed", self.name,
                              getattr(listener, "__qualname__", repr(listener)))


@dataclass(frozen=True)
class PhaseChanged:
    """The run entered `phase`; in the method, `step` of `steps` (1-based) called `label`."""

    phase: str
    step: int = 0
    steps: int = 0
    label: str = ""


@dataclass(frozen=True)
class FaultStarted:
    window: FaultWindow
    entry: Entry
    plan: FaultPlan


@dataclass(frozen=True)
class FaultEnded:
    window: FaultWindow
    outcome: UndoOutcome


class RunEvents:
    """The hooks of one run."""

    def __init__(self) -> None:
        self.phase_changed: EventHook[PhaseChanged] = EventHook("phase_changed")
        self.fault_started: EventHook[FaultStarted] = EventHook("fault_started")
        self.fault_ended: EventHook[FaultEnded] = EventHook("fault_ended")
        self.verdict: EventHook[Verdict] = EventHook("verdict")
        self.run_finished: EventHook[RunResult] = EventHook("run_finished")
