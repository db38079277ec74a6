"""What the parts of one run share: who it is (id, seed, variant), what probes may look at,
its journal and events, the abort flag, and what it has concluded so far."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from chaos.probes.env import ProbeEnv
from chaos.report.journal import Journal
from chaos.runner.events import RunEvents
from chaos.verdicts import Verdict


@dataclass
class RunState:
    run_id: str
    seed: int
    variant: str  # experiment | control
    env: ProbeEnv
    journal: Journal
    events: RunEvents
    abort: threading.Event = field(default_factory=threading.Event)
    interrupted: bool = False
    error_reason: str = ""  # set when the run errors: it then proves nothing
    verdicts: list[Verdict] = field(default_factory=list)
    probe_outputs: dict[str, Any] = field(default_factory=dict)  # step name → last output

    def add_verdict(self, verdict: Verdict) -> None:
        self.verdicts.append(verdict)
        self.events.verdict.fire(verdict)

    def interrupt(self) -> None:
        """Stop where the run is and roll back (safe from a signal handler)."""
        self.interrupted = True
        self.abort.set()
