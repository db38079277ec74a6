"""What a probe may look at besides the shop: the run's load, variables and fault windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaos.context import ChaosContext


@dataclass
class FaultWindow:
    """When a fault of the run was in effect (end None while it still is)."""

    fault_id: str
    name: str
    step: str
    targets: list[str]
    start: float
    end: float | None = None
    planned_end: float | None = None
    role: str = "fault"  # "protection": a negative control's switch (not timed by verdicts)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ProbeEnv:
    ctx: ChaosContext
    load: Any = None  # BuiltinLoad | LocustLoad | None
    vars: dict[str, Any] = field(default_factory=dict)
    faults: list[FaultWindow] = field(default_factory=list)
    started_at: float = 0.0

    def first_fault_start(self) -> float | None:
        return min((f.start for f in self.faults if f.role == "fault"), default=None)
