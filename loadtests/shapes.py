"""Load shapes selected with `--shape steady|step|spike|november|soak|capacity` (none = plain
-u/-r/-t).

Each shape is a LoadTestShape subclass whose tick() returns (users, spawn rate) until its
duration is over, then None (Locust stops the test). Parameters come from the custom arguments
(`--shape-users`, `--shape-spawn-rate`, `--shape-duration`, `--step-*`, `--spike-*`), falling
back on -u, -r and -t. The shapes are not imported into the locustfile's namespace (Locust would
pick the first one it finds); the init listener installs the selected one on the environment.

`soak` is steady load for the duration, measured per `--soak-bucket` (loadtests.soak), and
`capacity` steps the users up until a gate breaks (loadtests.capacity): both keep their plain
logic in those modules and only adapt it to Locust here (the clock, the runner's statistics,
the end of the run).

`november` follows seed 001 ("Scaling up to your first 10 million users"): traffic follows a
weekly cycle (Sunday to Saturday, one daily peak per day, weekdays a little busier than the
weekend) and November ends with a surge (Black Friday to Cyber Monday) up to the capacity that
was provisioned for it, of which an ordinary week uses about a quarter (the talk's 24% used /
76% idle). The run's duration is compressed into: one week (60% of the run, seven daily
cycles around 24% of the peak users) then the surge (40%: ramp to the peak, hold, fall back).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from locust import LoadTestShape

from loadtests.capacity import DEFAULT_MAX_USERS, DEFAULT_STEP_S, CapacityPlan, CapacitySearch
from loadtests.gates import Gate, gates_from_options
from loadtests.soak import DEFAULT_BUCKET_S, SoakRecorder

DEFAULT_USERS = 10
DEFAULT_DURATION_S = 60

# Seed 001, "November traffic to Amazon.com": an ordinary week uses ~24% of the peak capacity.
NOVEMBER_BASE_LEVEL = 0.24
NOVEMBER_WEEK_FRACTION = 0.6
# Sunday .. Saturday: relative traffic of each day in the weekly cycle (mean 1.0).
WEEKDAY_FACTORS = (0.90, 1.08, 1.06, 1.04, 1.02, 0.98, 0.92)
# Surge phases, as fractions of the surge: ramp to the peak, hold it, fall back.
SURGE_RAMP, SURGE_HOLD = 0.4, 0.25


class GamedayShape(LoadTestShape):
    """Base of our shapes: a run time from an injectable clock, and a fixed duration."""

    abstract = True
    _given_stats: Callable[[], Any] | None = None

    def __init__(self, duration_s: float, clock: Callable[[], float] | None = None) -> None:
        if duration_s <= 0:
            raise ValueError(f"the shape's duration must be > 0 s, got {duration_s}")
        self._clock = clock or time.perf_counter
        self.duration_s = float(duration_s)
        super().__init__()
        self.start_time = self._clock()

    def reset_time(self) -> None:
        self.start_time = self._clock()

    def get_run_time(self) -> float:
        return self._clock() - self.start_time

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time >= self.duration_s:
            return None
        return self.at(run_time)

    def at(self, run_time: float) -> tuple[int, float]:
        """(users, spawn rate) at run_time seconds; run_time < duration."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"shape": type(self).__name__, "duration_s": self.duration_s}

    def stats(self) -> Any:
        """The statistics a measuring shape reads: given (tests), else its runner's (Locust
        sets `shape.runner`; on a master they are the sum of the workers' reports)."""
        if self._given_stats is not None:
            return self._given_stats()
        return self.runner.environment.stats  # type: ignore[union-attr]


class SteadyShape(GamedayShape):
    """The same number of users for the whole duration."""

    def __init__(self, users: int, spawn_rate: float, duration_s: float,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__(duration_s, clock)
        self.users, self.spawn_rate = users, spawn_rate

    def at(self, run_time: float) -> tuple[int, float]:
        return self.users, self.spawn_rate

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "users": self.users, "spawn_rate": self.spawn_rate}


class StepShape(GamedayShape):
    """step_users more users every step_s seconds, up to users."""

    def __init__(self, users: int, spawn_rate: float, duration_s: float, step_users: int,
                 step_s: float, clock: Callable[[], float] | None = None) -> None:
        super().__init__(duration_s, clock)
        if step_users < 1 or step_s <= 0:
            raise ValueError("a step needs at least 1 user and a duration > 0 s")
        self.users, self.spawn_rate = users, spawn_rate
        self.step_users, self.step_s = step_users, float(step_s)

    def at(self, run_time: float) -> tuple[int, float]:
        steps = int(run_time // self.step_s) + 1
        return min(self.users, steps * self.step_users), self.spawn_rate

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "users": self.users, "spawn_rate": self.spawn_rate,
                "step_users": self.step_users, "step_s": self.step_s}


class SpikeShape(GamedayShape):
    """A baseline of users, and spike_users from spike_at for spike_s seconds."""

    def __init__(self, users: int, spawn_rate: float, duration_s: float, spike_users: int,
                 spike_at_s: float, spike_s: float,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__(duration_s, clock)
        if spike_s <= 0:
            raise ValueError("the spike must last more than 0 s")
        self.users, self.spawn_rate = users, spawn_rate
        self.spike_users, self.spike_at_s, self.spike_s = spike_users, spike_at_s, spike_s

    def at(self, run_time: float) -> tuple[int, float]:
        if self.spike_at_s <= run_time < self.spike_at_s + self.spike_s:
            # A spike arrives at once: spawn it within a second.
            return self.spike_users, max(self.spawn_rate, float(self.spike_users))
        return self.users, self.spawn_rate

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "users": self.users, "spawn_rate": self.spawn_rate,
                "spike_users": self.spike_users, "spike_at_s": self.spike_at_s,
                "spike_s": self.spike_s}


def november_level(fraction: float) -> float:
    """Traffic as a fraction of the peak at `fraction` (0..1) of the compressed month."""
    fraction = min(max(fraction, 0.0), 1.0)
    if fraction < NOVEMBER_WEEK_FRACTION:
        days = fraction / NOVEMBER_WEEK_FRACTION * 7.0
        day = min(int(days), 6)
        hour = days - int(days)  # 0 = midnight; the daily peak is in the evening
        daily = 0.5 - 0.5 * math.cos(2 * math.pi * hour)  # 0 at midnight, 1 at the peak
        return NOVEMBER_BASE_LEVEL * WEEKDAY_FACTORS[day] * (0.5 + daily)
    surge = (fraction - NOVEMBER_WEEK_FRACTION) / (1.0 - NOVEMBER_WEEK_FRACTION)
    if surge < SURGE_RAMP:
        ramp = surge / SURGE_RAMP
        return NOVEMBER_BASE_LEVEL + (1.0 - NOVEMBER_BASE_LEVEL) * ramp * ramp
    if surge < SURGE_RAMP + SURGE_HOLD:
        return 1.0
    fall = (surge - SURGE_RAMP - SURGE_HOLD) / (1.0 - SURGE_RAMP - SURGE_HOLD)
    return 1.0 - (1.0 - NOVEMBER_BASE_LEVEL) * fall


class NovemberShape(GamedayShape):
    """A week's daily cycles then the late-November surge, compressed into the duration."""

    def __init__(self, users: int, spawn_rate: float, duration_s: float,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__(duration_s, clock)
        self.users, self.spawn_rate = users, spawn_rate

    def at(self, run_time: float) -> tuple[int, float]:
        level = november_level(run_time / self.duration_s)
        return max(1, round(self.users * level)), self.spawn_rate

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "peak_users": self.users, "spawn_rate": self.spawn_rate,
                "base_level": NOVEMBER_BASE_LEVEL, "week_fraction": NOVEMBER_WEEK_FRACTION}


class SoakShape(SteadyShape):
    """Steady users for the duration; each bucket's throughput and percentiles recorded."""

    def __init__(self, users: int, spawn_rate: float, duration_s: float, bucket_s: float,
                 clock: Callable[[], float] | None = None,
                 stats: Callable[[], Any] | None = None,
                 epoch: Callable[[], float] = time.time) -> None:
        super().__init__(users, spawn_rate, duration_s, clock)
        self._given_stats = stats
        self._epoch = epoch
        self.recorder = SoakRecorder(bucket_s, self.stats, epoch)

    def reset_time(self) -> None:
        super().reset_time()
        self.recorder = SoakRecorder(self.recorder.bucket_s, self.stats, self._epoch)

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time >= self.duration_s:
            self.recorder.close(run_time, self.users)  # the last bucket, even if partial
            return None
        self.recorder.tick(run_time, self.users)
        return self.at(run_time)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.recorder.describe()}


class CapacityShape(GamedayShape):
    """The capacity search (loadtests.capacity) as a shape; it ends the run when it is done,
    or when its time budget (every step, with time to spawn each) is spent."""

    def __init__(self, plan: CapacityPlan, gates: list[Gate],
                 clock: Callable[[], float] | None = None,
                 stats: Callable[[], Any] | None = None) -> None:
        super().__init__(plan.budget_s(), clock)
        self._given_stats = stats
        self.plan, self._gates = plan, gates
        self.search = CapacitySearch(plan, gates, self.stats)

    def reset_time(self) -> None:
        super().reset_time()
        self.search = CapacitySearch(self.plan, self._gates, self.stats)

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time >= self.duration_s:
            self.search.stop_early(f"the time budget ({self.duration_s:.0f} s) ran out")
            return None
        return self.search.tick(run_time)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.search.describe()}


@dataclass(frozen=True)
class ShapeParams:
    users: int
    spawn_rate: float
    duration_s: float


def shape_params(options: Any) -> ShapeParams:
    """Users, spawn rate and duration: the --shape-* arguments, else -u/-r/-t, else defaults."""
    users = getattr(options, "shape_users", None)
    if users is None:
        users = getattr(options, "num_users", None) or DEFAULT_USERS
    rate = getattr(options, "shape_spawn_rate", None)
    if rate is None:
        rate = getattr(options, "spawn_rate", None) or float(max(users, 1))
    duration = getattr(options, "shape_duration", None)
    if duration is None:
        duration = getattr(options, "run_time", None) or DEFAULT_DURATION_S
    return ShapeParams(int(users), float(rate), float(duration))


def build_shape(options: Any, clock: Callable[[], float] | None = None) -> GamedayShape | None:
    """The shape named by --shape (None for "none"); ValueError on impossible parameters."""
    name = getattr(options, "shape", "none") or "none"
    if name == "none":
        return None
    p = shape_params(options)
    if name == "steady":
        return SteadyShape(p.users, p.spawn_rate, p.duration_s, clock)
    if name == "step":
        step_users = getattr(options, "step_users", None) or max(1, math.ceil(p.users / 4))
        step_s = getattr(options, "step_duration", None) or max(1.0, p.duration_s / 4)
        return StepShape(p.users, p.spawn_rate, p.duration_s, step_users, step_s, clock)
    if name == "spike":
        spike_users = getattr(options, "spike_users", None) or 3 * max(p.users, 1)
        spike_at = getattr(options, "spike_at", None)
        spike_at = p.duration_s / 2 if spike_at is None else spike_at
        spike_s = getattr(options, "spike_duration", None) or max(1.0, p.duration_s / 10)
        return SpikeShape(p.users, p.spawn_rate, p.duration_s, spike_users, spike_at, spike_s,
                          clock)
    if name == "november":
        return NovemberShape(p.users, p.spawn_rate, p.duration_s, clock)
    if name == "soak":
        bucket_s = getattr(options, "soak_bucket", None) or DEFAULT_BUCKET_S
        return SoakShape(p.users, p.spawn_rate, p.duration_s, bucket_s, clock)
    if name == "capacity":
        return CapacityShape(capacity_plan(options), gates_from_options(options), clock)
    raise ValueError(f"--shape {name!r}: unknown shape (steady, step, spike, november, soak, "
                     f"capacity, none)")


def capacity_plan(options: Any) -> CapacityPlan:
    """The capacity search's plan: at most --shape-users or -u users (default
    DEFAULT_MAX_USERS), --step-users per --step-duration, --step-settle, the spawn rate."""
    users = getattr(options, "shape_users", None) or getattr(options, "num_users", None)
    rate = getattr(options, "shape_spawn_rate", None) or getattr(options, "spawn_rate", None)
    return CapacityPlan(max_users=int(users or DEFAULT_MAX_USERS),
                        step_users=int(getattr(options, "step_users", None) or 0),
                        step_s=float(getattr(options, "step_duration", None) or DEFAULT_STEP_S),
                        settle_s=getattr(options, "step_settle", None),
                        spawn_rate=float(rate or 0.0))
