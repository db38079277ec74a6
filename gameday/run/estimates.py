"""How long is left: each phase's typical duration (measured with bench/gameday_budgets.py on
a shared 2-core machine), corrected by how fast the finished phases went today.

    plan = Estimate([("stack", 18), ("warm-up", 6), ("payments-breaker", 30), ...])
    plan.start("stack", now); ...; plan.finish("stack", now); plan.remaining(now)
"""

from __future__ import annotations

from typing import Any

from chaos.durations import parse_duration

# seconds, typical on a shared 2-core machine under the game day's 60 req/s
# (bench/gameday_budgets.py)
PHASES_S = {"stack": 18.0, "warm-up": 6.0, "teardown": 10.0}
EXPERIMENTS_S = {
    "inventory-lambda-errors": 55.0,
    "inventory-throttled": 55.0,
    "payments-breaker": 32.0,
    "poison-record": 66.0,  # waits for the per-minute stuck-correlation-ID alarm
    "storefront-replica-killed": 15.0,
    "stream-consumer-down": 62.0,  # 30 s down, then the backlog drains
}
MIN_FACTOR, MAX_FACTOR = 0.75, 2.0


def guess_experiment_s(name: str, data: dict[str, Any] | None = None) -> float:
    """The typical duration of an experiment; for one not measured yet, a guess from its
    file: its warm-up, its longest fault and its recovery probes."""
    if name in EXPERIMENTS_S:
        return EXPERIMENTS_S[name]
    if not data:
        return 45.0
    faults = [parse_duration(s.get("duration", 0)) for s in data.get("method", [])
              if s.get("type") == "fault"]
    pauses = [parse_duration(s.get("duration", 0)) for s in data.get("method", [])
              if s.get("type") == "pause"]
    return 15.0 + max(faults, default=0.0) + sum(pauses) + 10.0


class Estimate:
    """Time left in a list of phases (name, typical seconds)."""

    def __init__(self, phases: list[tuple[str, float]]) -> None:
        self.phases = list(phases)
        self.typical = dict(phases)
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}

    def start(self, name: str, now: float) -> None:
        self.started.setdefault(name, now)

    def finish(self, name: str, now: float) -> None:
        self.started.setdefault(name, now)
        self.finished[name] = now

    def factor(self) -> float:
        """Actual / typical over the finished experiments (1.0 before any), clamped. The
        stack's start says little about them: they mostly wait out fault durations."""
        done = [n for n in self.finished if n not in PHASES_S]
        typical = sum(self.typical[n] for n in done)
        actual = sum(self.finished[n] - self.started[n] for n in done)
        if typical <= 0:
            return 1.0
        return min(MAX_FACTOR, max(MIN_FACTOR, actual / typical))

    def remaining(self, now: float) -> float:
        """Seconds left: the running phase's rest (a few seconds once it overruns) plus the
        phases not started, all scaled by today's factor."""
        factor = self.factor()
        left = 0.0
        for name, typical in self.phases:
            if name in self.finished:
                continue
            if name in self.started:
                elapsed = now - self.started[name]
                left += max(typical * factor - elapsed, min(5.0, 0.2 * typical))
            else:
                left += typical * factor
        return left

    def total(self) -> float:
        return sum(self.typical.values())
