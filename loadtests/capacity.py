"""The capacity search: step the users up until an SLO gate breaks, and name the knee.

`CapacitySearch` is a plain class driven by a clock (its `tick(now)` is called about once a
second, by `shapes.CapacityShape` inside Locust or by a test with a fake target) and reads the
statistics through a callable, so it never touches a runner. Each step:

1. asks for `users` (start_users, then + step_users each step, at most max_users);
2. waits `settle_s` after the users are running (Locust's shape worker blocks while it spawns,
   so the first tick after the request is when they all run), then snapshots the statistics
   (on a distributed master they arrive from the workers every 3 s: the settle time also
   keeps the previous step's late reports out);
3. at `step_s` after the users ran, judges the window settle_s..step_s on the per-step gates
   (`--gate-failure-ratio`, `--gate-p95`, `--gate-p99`; by default DEFAULT_STEP_GATES) with
   `gates.evaluate`, exactly as a whole run is judged.

The search stops at the first step that misses a gate (or that made no request at all) or after
the step at max_users. The knee is the passing step with the most requests per second; the
run's verdict (`verdict()`) passes when there is a knee and it reaches `--gate-min-rps` (a
floor on the capacity found, judged on the knee, not on each step: the first steps are meant
to be light). A search that reached max_users without a broken gate says so: its knee is a
lower bound.

Only users are stepped: the journeys are closed-loop (each user waits its think time after an
answer), so at a fixed `--think-time` the users set the offered load; Locust has no open-model
arrival-rate executor to step instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from loadtests import windows
from loadtests.gates import Gate, GateResult, evaluate

if TYPE_CHECKING:
    from locust.stats import RequestStats

log = logging.getLogger("loadtests.capacity")

# One definition of the search's defaults: the `gameday load` CLI and the Locust options read them.
DEFAULT_MAX_USERS = 100
DEFAULT_STEP_S = 20.0
DEFAULT_STEPS = 10  # step_users defaults to max_users / DEFAULT_STEPS
SETTLE_FRACTION = 0.25  # settle_s defaults to a quarter of the step
SPAWN_ALLOWANCE_S = 10.0  # per step, in the run's time budget, for starting its users
DEFAULT_STEP_GATES = (Gate("failure_ratio", 0.01), Gate("p99", 1000.0, "Aggregated"))
STEP_GATE_KINDS = ("failure_ratio", "p95", "p99")


@dataclass(frozen=True)
class CapacityPlan:
    """How the load steps up."""

    max_users: int = DEFAULT_MAX_USERS
    step_users: int = 0  # 0: max_users / DEFAULT_STEPS, at least 1
    step_s: float = DEFAULT_STEP_S
    settle_s: float | None = None  # None: SETTLE_FRACTION of the step
    start_users: int = 0  # 0: step_users
    spawn_rate: float = 0.0  # 0: a step's new users within a second

    def __post_init__(self) -> None:
        if self.max_users < 1:
            raise ValueError(f"the most users must be >= 1, got {self.max_users}")
        if self.step_users < 0 or self.start_users < 0:
            raise ValueError("step users and start users must be >= 0")
        if not self.step_s > 0:
            raise ValueError(f"a step must last more than 0 s, got {self.step_s}")
        settle = self.settle
        if not 0 <= settle < self.step_s:
            raise ValueError(f"the settle time ({settle:g} s) must be >= 0 and shorter than "
                             f"the step ({self.step_s:g} s)")
        if self.first_users > self.max_users:
            raise ValueError(f"the first step ({self.first_users} users) is above the most "
                             f"users ({self.max_users})")

    @property
    def step(self) -> int:
        return self.step_users or max(1, math.ceil(self.max_users / DEFAULT_STEPS))

    @property
    def settle(self) -> float:
        return self.step_s * SETTLE_FRACTION if self.settle_s is None else self.settle_s

    @property
    def first_users(self) -> int:
        return self.start_users or self.step

    @property
    def rate(self) -> float:
        return self.spawn_rate or float(self.step)

    def users_of(self, index: int) -> int:
        return min(self.max_users, self.first_users + index * self.step)

    @property
    def steps(self) -> int:
        return 1 + math.ceil((self.max_users - self.first_users) / self.step)

    def budget_s(self) -> float:
        """The longest the search can take: every step, each with time to start its users."""
        return self.steps * (self.step_s + SPAWN_ALLOWANCE_S)

    def to_dict(self) -> dict[str, Any]:
        return {"max_users": self.max_users, "step_users": self.step, "step_s": self.step_s,
                "settle_s": self.settle, "start_users": self.first_users,
                "spawn_rate": self.rate, "steps": self.steps}


@dataclass
class StepResult:
    """One step: its users, its measured window and the gates judged on it."""

    index: int
    users: int
    started_s: float  # run time when its users all ran
    window_s: float
    requests: int
    failures: int
    failure_ratio: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    passed: bool
    gates: list[dict[str, Any]] = field(default_factory=list)
    results: list[GateResult] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("results")
        return data

    def line(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f} ms"

        return (f"step {self.index + 1}: {self.users} users, {self.rps:.1f} req/s, p95 "
                f"{ms(self.p95_ms)}, p99 {ms(self.p99_ms)}, failures "
                f"{100 * self.failure_ratio:.2f}% ({self.requests} requests in "
                f"{self.window_s:.0f} s): {'met' if self.passed else 'BROKEN'}")


def step_gates(gates: list[Gate]) -> tuple[list[Gate], list[Gate]]:
    """(the gates judged on each step, the gates judged on the knee); the defaults when no
    per-step gate was given."""
    per_step = [g for g in gates if g.kind in STEP_GATE_KINDS]
    on_knee = [g for g in gates if g.kind not in STEP_GATE_KINDS]
    return (per_step or list(DEFAULT_STEP_GATES)), on_knee


class CapacitySearch:
    """Steps, measures and judges; `tick(now)` returns (users, spawn rate) or None (done)."""

    def __init__(self, plan: CapacityPlan, gates: list[Gate],
                 stats: Callable[[], RequestStats]) -> None:
        self.plan = plan
        self.gates, self.knee_gates = step_gates(gates)
        self.defaulted = not any(g.kind in STEP_GATE_KINDS for g in gates)
        self._stats = stats
        self.steps: list[StepResult] = []
        self.stopped_because: str | None = None
        self._index = 0
        self._phase = "request"  # request -> settle -> measure -> (next step | done)
        self._ran_at: float | None = None
        self._start: windows.Snapshot | None = None

    @property
    def done(self) -> bool:
        return self.stopped_because is not None

    def tick(self, now: float) -> tuple[int, float] | None:
        if self.done:
            return None
        users = self.plan.users_of(self._index)
        if self._phase == "request":
            self._phase, self._ran_at, self._start = "settle", None, None
            log.info("capacity step %d: %d users", self._index + 1, users)
            return users, self.plan.rate
        if self._ran_at is None:
            self._ran_at = now  # the first tick after the request: every user runs
        if self._phase == "settle" and now >= self._ran_at + self.plan.settle:
            self._start = windows.snapshot(self._stats(), now)
            self._phase = "measure"
        if self._phase == "measure" and now >= self._ran_at + self.plan.step_s:
            result = self._judge(users, windows.snapshot(self._stats(), now))
            self.steps.append(result)
            log.info("capacity %s", result.line())
            if not result.passed:
                return self._stop(self._why_broken(result))
            if users >= self.plan.max_users:
                return self._stop(f"reached the most users ({self.plan.max_users}) with every "
                                  f"gate met: the capacity is at least the knee")
            self._index += 1
            self._phase = "request"
            return self.tick(now)
        return users, self.plan.rate

    def stop_early(self, why: str) -> None:
        """The run ended before the search did (Ctrl-C, -t): keep the steps judged so far."""
        if not self.done:
            self.stopped_because = why

    def _stop(self, why: str) -> None:
        self.stopped_because = why
        log.info("capacity search done: %s", why)
        return None

    def _judge(self, users: int, end: windows.Snapshot) -> StepResult:
        assert self._start is not None and self._ran_at is not None
        window = windows.between(self._start, end)
        numbers = windows.numbers(window)
        results = evaluate(self.gates, window)
        passed = numbers["requests"] > 0 and all(r.passed for r in results)
        return StepResult(
            index=self._index, users=users, started_s=round(self._ran_at, 3),
            window_s=round(end.at - self._start.at, 3), requests=numbers["requests"],
            failures=numbers["failures"], failure_ratio=numbers["failure_ratio"],
            rps=numbers["rps"], p50_ms=numbers["p50_ms"], p95_ms=numbers["p95_ms"],
            p99_ms=numbers["p99_ms"], passed=passed,
            gates=[r.to_dict() for r in results], results=results)

    @staticmethod
    def _why_broken(step: StepResult) -> str:
        if step.requests == 0:
            return f"step {step.index + 1} ({step.users} users) made no request"
        missed = "; ".join(r.message for r in step.results if not r.passed)
        return f"step {step.index + 1} ({step.users} users) broke a gate: {missed}"

    @property
    def knee(self) -> StepResult | None:
        """The passing step with the most requests per second."""
        passed = [s for s in self.steps if s.passed]
        return max(passed, key=lambda s: s.rps) if passed else None

    def verdict(self) -> list[GateResult]:
        """The run's gate results: the knee's own (all met), and the knee gates (min rps) on
        the knee; with no knee, the first step's misses."""
        knee = self.knee
        if knee is None:
            if not self.steps:
                return [GateResult(Gate("min_rps", 0.0), None, False,
                                   "capacity search: no step was completed, so no capacity "
                                   "was found")]
            first = self.steps[0]
            missed = [r for r in first.results if not r.passed]
            return missed or [GateResult(Gate("min_rps", 0.0), 0.0, False,
                                         f"capacity search: the first step ({first.users} "
                                         f"users) made no request")]
        results = list(knee.results)
        for gate in self.knee_gates:
            passed = knee.rps >= gate.limit
            how = "met" if passed else f"short by {gate.limit - knee.rps:.2f} req/s"
            results.append(GateResult(gate, knee.rps, passed,
                                      f"capacity (knee) {knee.rps:.2f} req/s at {knee.users} "
                                      f"users, minimum {gate.limit:.2f} req/s: {how}"))
        return results

    def describe(self) -> dict[str, Any]:
        knee = self.knee
        return {"plan": self.plan.to_dict(),
                "gates": [{"gate": g.label, "limit": g.limit} for g in self.gates],
                "gates_defaulted": self.defaulted,
                "knee_gates": [{"gate": g.label, "limit": g.limit} for g in self.knee_gates],
                "steps": [s.to_dict() for s in self.steps],
                "knee": knee.to_dict() if knee else None,
                "unbroken": bool(self.steps) and self.steps[-1].passed,
                "stopped_because": self.stopped_because}
