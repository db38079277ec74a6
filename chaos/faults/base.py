"""What every fault family implements, and the plan/undo records they exchange.

A fault family knows its candidates (what it could hit), how to inject into the chosen targets,
how to verify that the injection landed, and how to undo it from the ledger entry alone (so a
different process — `cleanup`, `reap` — can undo it later).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chaos.context import ChaosContext
from chaos.ledger import Entry


class InjectionFailed(RuntimeError):
    """The fault could not be set, or did not land; the run/command fails."""


class FaultConflict(InjectionFailed):
    """Another active fault already holds this target."""


class UnknownTarget(InjectionFailed, ValueError):
    """A fault names a target that does not exist (a service, function, replica or alarm):
    bad input, found while planning, before anything is touched. A ValueError too, so the CLI
    answers it as it answers every other bad input (exit 2), and an InjectionFailed for the
    callers that plan faults (the runner's plan and steps)."""


@dataclass
class FaultPlan:
    """A resolved fault: the targets chosen, the parameters as they will be applied."""

    name: str
    selection: str
    seed: int
    duration_s: float
    params: dict[str, Any]
    candidates: list[str]
    targets: list[str]
    effects: list[str] = field(default_factory=list)  # human-readable, for --dry and status

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "selection": self.selection, "seed": self.seed,
            "duration_s": self.duration_s, "params": self.params,
            "candidates": self.candidates, "targets": self.targets, "effects": self.effects,
        }


class Fault(ABC):
    """A fault family. Subclasses are small and stateless; one instance per fault name."""

    name: str = ""
    summary: str = ""
    # True when the target itself ends the fault at expires_at (SSM flag, supervisor hold);
    # False when only `reap` (run by the stack's reaper) can end it after a CLI died.
    self_expiring: bool = True
    uses_aws: bool = True  # undo needs the AWS endpoint (kill-replica only needs files)

    @abstractmethod
    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated parameters with defaults filled; ValueError naming the bad one."""

    def reject_unknown(self, params: dict[str, Any], known: Iterable[str]) -> None:
        """ValueError naming every parameter of `params` not in `known` (for normalize)."""
        unknown = set(params) - set(known)
        if unknown:
            raise ValueError(f"{self.name} does not take {', '.join(sorted(unknown))}")

    @abstractmethod
    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        """Every target this fault could hit with these parameters."""

    @abstractmethod
    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        """Resources this fault takes exclusively (one active fault per key)."""

    @abstractmethod
    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        """What injecting would do, one line per effect (for plans)."""

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        """Read what undo needs (previous values) before anything is changed."""
        return {}

    @abstractmethod
    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        """Apply the fault to entry.targets."""

    @abstractmethod
    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        """Raise InjectionFailed unless the fault is observably in place."""

    @abstractmethod
    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        """Undo from the ledger entry alone; idempotent; returns what was done."""


def poll(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    """True as soon as `check()` is true, False after timeout_s (a bounded verify loop)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def as_list(value: Any) -> list[str]:
    """A comma-separated string or a list, as a list of non-empty strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def rate_param(params: dict[str, Any], default: float = 1.0) -> float:
    rate = params.get("rate", default)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise ValueError(f"rate must be a number in (0, 1], got {rate!r}")
    return float(rate)
