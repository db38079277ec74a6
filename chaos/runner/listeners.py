"""Listeners the runner attaches to its own events: the journal's fault records, and Grafana
region annotations (one per fault, from its start to its planned end, then its real end).
Their errors are logged by the events object, never raised into the run."""

from __future__ import annotations

from typing import Any

from chaos.report.journal import Journal
from chaos.runner.events import FaultEnded, FaultStarted, RunEvents


class JournalFaults:
    """`faults` in journal.json: each fault's ledger entry and plan, then how it ended."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def listen(self, events: RunEvents) -> None:
        events.fault_started.add_listener(self.started)
        events.fault_ended.add_listener(self.ended)

    def started(self, event: FaultStarted) -> None:
        self.journal.append("faults", {"entry": event.entry.to_dict(),
                                       "plan": event.plan.to_dict()})

    def ended(self, event: FaultEnded) -> None:
        self.journal.append("faults", {"ended": event.window.to_dict(),
                                       "undo": event.outcome.detail})


class GrafanaAnnotations:
    """A region annotation per fault, tagged `chaos`, the fault's name and the variant."""

    def __init__(self, grafana: Any, title: str, variant: str) -> None:
        self.grafana = grafana  # chaos.report.grafana.GrafanaClient
        self.title = title
        self.variant = variant
        self.ids: dict[str, Any] = {}  # fault id → annotation id

    def listen(self, events: RunEvents) -> None:
        events.fault_started.add_listener(self.started)
        events.fault_ended.add_listener(self.ended)

    def started(self, event: FaultStarted) -> None:
        window = event.window
        self.ids[window.fault_id] = self.grafana.annotate(
            window.start, window.planned_end or window.start,
            ["chaos", window.name, self.variant],
            f"{self.title}: {window.name} on {', '.join(window.targets)} ({window.fault_id})")

    def ended(self, event: FaultEnded) -> None:
        window = event.window
        annotation = self.ids.get(window.fault_id)
        if annotation is None or window.end is None:
            return
        self.grafana.set_end(annotation, window.end)
