"""The experiment's sections as typed config, built once when a file loads: `load`, `observe`,
`stop-conditions`, `error-budget` and `control`. Each default is written here and nowhere
else; everyone else reads the field.

Built from data the schema (schema.py) has already checked, so nothing here validates again.
The journal keeps recording the sections as written (`Experiment.data`): what the user asked
for, not these expanded values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaos.durations import parse_duration

# step defaults, read by the runner and the plan alike
DEFAULT_TARGET = "ALL"
PROBE_INTERVAL = "0.25s"  # how often a probe with `within` reads again
WAIT_FOR_FAULTS_TIMEOUT = "60s"


@dataclass(frozen=True)
class Duration:
    """A duration as written (for messages) and in seconds."""

    text: str
    seconds: float

    @classmethod
    def of(cls, value: str | float | int) -> Duration:
        return cls(str(value), parse_duration(value))

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class LoadConfig:
    """`load:` — the built-in shopper loop, Locust as a process, or none."""

    driver: str = "none"
    users: int = 3
    think_time: Duration = Duration.of("0.2s")
    warmup_orders: int = 3
    warmup_timeout: Duration = Duration.of("30s")
    settle_timeout: Duration = Duration.of("30s")
    locustfile: str = "loadtests/locustfile.py"
    spawn_rate: float = 3.0
    browse: bool = True

    @classmethod
    def from_spec(cls, data: dict[str, Any] | None) -> LoadConfig:
        data = data or {}
        base = cls()
        return cls(
            driver=data.get("driver", base.driver),
            users=int(data.get("users", base.users)),
            think_time=_duration(data, "think-time", base.think_time),
            warmup_orders=int(data.get("warmup-orders", base.warmup_orders)),
            warmup_timeout=_duration(data, "warmup-timeout", base.warmup_timeout),
            settle_timeout=_duration(data, "settle-timeout", base.settle_timeout),
            locustfile=data.get("locustfile", base.locustfile),
            spawn_rate=float(data.get("spawn-rate", base.spawn_rate)),
            browse=bool(data.get("browse", base.browse)),
        )

    @property
    def runs(self) -> bool:
        return self.driver != "none"


@dataclass(frozen=True)
class ObserveConfig:
    """`observe:` — what the sampler records for the plots and the timings."""

    interval: Duration = Duration.of("0.5s")
    breakers: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    iterator_age: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, data: dict[str, Any] | None) -> ObserveConfig:
        data = data or {}
        return cls(
            interval=_duration(data, "interval", cls.interval),
            breakers=tuple(data.get("breakers") or ()),
            alarms=tuple(data.get("alarms") or ()),
            iterator_age=tuple(data.get("iterator-age") or ()),
            services=tuple(data.get("services") or ()),
        )

    def targets(self) -> dict[str, list[str]]:
        """The observed names in the file's own keys (what `standard_numbers` reads)."""
        return {"breakers": list(self.breakers), "alarms": list(self.alarms),
                "iterator-age": list(self.iterator_age), "services": list(self.services)}


@dataclass(frozen=True)
class StopConditions:
    """`stop-conditions:` — guard probes checked every `interval` while the method runs.
    `alarms: [NAME, ...]` is short for one `alarm` guard per CloudWatch alarm: the run aborts
    when one of them goes to ALARM (its ALARM on data from before the fault does not count)."""

    interval: Duration = Duration.of("1s")
    guards: tuple[dict[str, Any], ...] = ()
    alarms: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, data: dict[str, Any] | None) -> StopConditions:
        data = data or {}
        alarms = tuple(data.get("alarms") or ())
        return cls(interval=_duration(data, "interval", cls.interval),
                   guards=tuple(data.get("guards") or ()) + tuple(
                       alarm_guard(name) for name in alarms),
                   alarms=alarms)


def alarm_guard(alarm: str) -> dict[str, Any]:
    """The guard a stop condition `alarms: [alarm]` stands for."""
    from chaos.probes.alarms import STALE_ALARM

    return {"name": f"alarm {alarm} not in ALARM", "probe": "alarm",
            "params": {"alarm": alarm},
            "tolerance": {"in": ["OK", "INSUFFICIENT_DATA", STALE_ALARM]}}


@dataclass(frozen=True)
class ErrorBudget:
    """`error-budget:` — the share of the experiment's own probe requests (the whole run) that
    may fail: no answer, or a 5xx other than a clean 503 with Retry-After. Judged as a verdict
    (`chaos.verdicts.error_budget_verdict`) whenever the run has a probe load; the default is
    the game day's availability objective, 99 %."""

    ratio: float = 0.01

    @classmethod
    def from_spec(cls, data: dict[str, Any] | None) -> ErrorBudget:
        data = data or {}
        return cls(ratio=float(data.get("ratio", cls.ratio)))


@dataclass(frozen=True)
class ControlConfig:
    """`control:` — the negative control: its stack, the steps that switch the protection off
    before the method, and the checks that must fail for it to count."""

    description: str = ""
    stack_args: tuple[str, ...] = ()
    before_method: tuple[dict[str, Any], ...] = ()
    expect_failing: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, data: dict[str, Any] | None) -> ControlConfig:
        if not data:
            return cls()
        return cls(description=data.get("description", ""),
                   stack_args=tuple((data.get("stack") or {}).get("args") or ()),
                   before_method=tuple(data.get("before-method") or ()),
                   expect_failing=tuple(data.get("expect-failing") or ()))


def _duration(data: dict[str, Any], key: str, default: Duration) -> Duration:
    return Duration.of(data[key]) if key in data else default
