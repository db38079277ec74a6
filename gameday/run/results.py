"""What a game day produced, as plain data: one `ExperimentSummary` per experiment (a row of the
summary table) and the `GameDayResult` around them. `to_dict()` is the `summary.json` layout;
`from_dict()` reads it back (the report can be re-rendered from a summary.json).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.numbers import definition, format_value
from loadtests.outcomes import CHECKOUT
from local_stack.exit_codes import ExitCode

# experiment outcomes (chaos.runner's, plus the ones a game day adds)
PASSED, FAILED, ABORTED, ERROR, INTERRUPTED = "passed", "failed", "aborted", "error", \
    "interrupted"
NOT_RUN = "not run"  # the game day stopped before this experiment


def load_numbers(load: dict[str, Any], options: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """The `load_*` numbers (chaos.numbers) from the game day's `load` section: what it
    requested (`requested`, loadtests.pacing.LoadMix) and what Locust's JSON summary says it
    did. Every rate is a count divided by the load's one span, Locust's `duration_s` (its
    first to its last request)."""
    options = options or {}
    requested = load.get("requested") or load.get("pacing") or {}
    total = load.get("total") or {}
    span = load.get("duration_s")
    requests = total.get("requests")
    routes = load.get("routes")
    checkouts = None if routes is None else sum(
        int(r.get("requests") or 0) for r in routes
        if (r.get("method"), r.get("name")) == ("POST", CHECKOUT))

    def per_s(count: Any) -> float | None:
        if not isinstance(count, int | float):
            return None
        if count == 0:
            return 0.0  # Locust reported, and nothing was sent
        if not isinstance(span, int | float) or span <= 0:
            return None
        return round(count / span, 2)

    return {
        "load_users": requested.get("users") or load.get("users_requested")
        or options.get("users"),
        "load_buyers": requested.get("buyers"),
        "load_rate_requested": requested.get("rate") or options.get("rate"),
        "load_rate": per_s(requests),
        "load_checkout_rate_requested": requested.get("checkout_rate"),
        "load_checkout_rate": per_s(checkouts),
        "load_requests": requests,
        "load_checkouts": checkouts,
        "load_failures": total.get("failures"),
        "load_failure_ratio": total.get("failure_ratio"),
    }


@dataclass
class Timing:
    """A headline time: what it measures ("breaker open", "alarm ...") and the seconds (None:
    it never happened)."""

    label: str
    seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ErrorBudget:
    """The experiment's error budget as its run judged it (its `error-budget` verdict): the
    numbers `error_budget_*` of chaos.verdicts, copied, never recomputed — so the share shown
    is the one the verdict judged (chaos.numbers defines each).

    A request failed when it got no answer or a 5xx other than a 503 carrying Retry-After (a
    clean shed). Counted over the experiment's own probe load, the whole run."""

    ratio: float  # the share of requests allowed to fail, e.g. 0.01 for 99 %
    requests: int = 0
    failed: int = 0
    used: float | None = None  # failed / (ratio × requests): 1.0 is the whole budget

    @property
    def allowed(self) -> float:
        return self.ratio * self.requests

    @property
    def over(self) -> bool:
        """More than the whole budget used: the experiment's budget verdict failed."""
        return self.used is not None and self.used > 1.0

    @classmethod
    def from_numbers(cls, numbers: dict[str, Any]) -> ErrorBudget | None:
        """From a run's numbers; None when it judged no budget (no probe load)."""
        if not isinstance(numbers.get("error_budget_ratio"), int | float):
            return None
        used = numbers.get("error_budget_used")
        return cls(ratio=float(numbers["error_budget_ratio"]),
                   requests=int(numbers.get("error_budget_requests") or 0),
                   failed=int(numbers.get("error_budget_failed") or 0),
                   used=float(used) if isinstance(used, int | float) else None)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "allowed": round(self.allowed, 2), "over": self.over}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorBudget:
        used = data.get("used")
        return cls(ratio=float(data["ratio"]), requests=int(data.get("requests", 0)),
                   failed=int(data.get("failed", 0)),
                   used=float(used) if isinstance(used, int | float) else None)


@dataclass
class Check:
    """One verdict line of an experiment: a hypothesis probe, a method probe or a verdict."""

    title: str
    observed: Any
    expected: str
    passed: bool
    detail: str = ""
    metric: str | None = None  # a verdict's metric: its unit is chaos.numbers'

    def observed_text(self) -> str:
        """The observed value as every report writes it (its metric's unit; else a float with
        3 significant digits)."""
        if self.metric and definition(self.metric) is not None:
            return format_value(self.metric, self.observed)
        return f"{self.observed:.3g}" if isinstance(self.observed, float) else str(self.observed)

    def describe(self, limit: int = 80) -> str:
        """`title: observed X, expected Y (detail)`, X cut after `limit` characters."""
        text = self.observed_text()
        if len(text) > limit:
            text = text[:limit] + "…"
        return f"{self.title}: observed {text}, expected {self.expected}" + (
            f" ({self.detail})" if self.detail else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExperimentSummary:
    """One row of the summary table, plus where the experiment's own files are."""

    name: str  # the file stem, what --experiments takes
    title: str
    outcome: str
    seed: int | None = None
    description: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    detection: Timing | None = None
    recovery: Timing | None = None
    error_budget: ErrorBudget | None = None
    # the game day's Locust users during the experiment ({requests, failures, rps: chaos.numbers'
    # load_rate_during}): context for the report, not part of the experiment's error budget
    # (its own probe load is judged)
    locust: dict[str, Any] | None = None
    orders_accepted: int | None = None
    orders_lost: int | None = None
    duplicate_orders: int | None = None
    checks: list[Check] = field(default_factory=list)
    reason: str = ""
    files: dict[str, str] = field(default_factory=dict)  # kind -> path relative to the report
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round(self.ended_at - self.started_at, 1)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def why(self) -> str:
        """One line saying why the experiment did not pass ('' when it passed)."""
        if self.passed:
            return ""
        if self.outcome == NOT_RUN:
            return self.reason or "not run"
        parts = [c.describe() for c in self.failed_checks]
        if self.reason and not parts:
            parts.append(self.reason)
        return "; ".join(parts) or self.outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "outcome": self.outcome,
            "passed": self.passed, "seed": self.seed, "description": self.description,
            "started_at": self.started_at, "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "detection": self.detection.to_dict() if self.detection else None,
            "recovery": self.recovery.to_dict() if self.recovery else None,
            "error_budget": self.error_budget.to_dict() if self.error_budget else None,
            "locust": dict(self.locust) if self.locust is not None else None,
            "orders_accepted": self.orders_accepted, "orders_lost": self.orders_lost,
            "duplicate_orders": self.duplicate_orders,
            "failed_checks": [c.to_dict() for c in self.failed_checks],
            "checks": [c.to_dict() for c in self.checks],
            "reason": self.reason, "why": self.why(), "files": dict(self.files),
            "numbers": dict(self.numbers),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSummary:
        def timing(value: Any) -> Timing | None:
            return Timing(value["label"], value["seconds"]) if value else None

        budget = data.get("error_budget")
        return cls(
            name=data["name"], title=data.get("title", data["name"]), outcome=data["outcome"],
            seed=data.get("seed"), description=data.get("description", ""),
            started_at=data.get("started_at"), ended_at=data.get("ended_at"),
            detection=timing(data.get("detection")), recovery=timing(data.get("recovery")),
            error_budget=ErrorBudget.from_dict(budget) if budget else None,
            locust=data.get("locust"),
            orders_accepted=data.get("orders_accepted"), orders_lost=data.get("orders_lost"),
            duplicate_orders=data.get("duplicate_orders"),
            checks=[Check(**c) for c in data.get("checks", [])],
            reason=data.get("reason", ""), files=dict(data.get("files") or {}),
            numbers=dict(data.get("numbers") or {}),
        )


@dataclass
class Budget:
    """One time budget of the issue: the goal, what was observed, and where it comes from."""

    name: str
    title: str
    goal_s: float | None
    observed_s: float | None
    source: str = ""

    @property
    def status(self) -> str:
        """"within", "over", "not measured" (nothing observed) or "info" (no goal)."""
        if self.observed_s is None:
            return "not measured"
        if self.goal_s is None:
            return "info"
        return "within" if self.observed_s <= self.goal_s else "over"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


@dataclass
class GameDayResult:
    """The whole game day: options, stack, load, experiments, budgets, teardown, outcome."""

    started_at: float
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    ended_at: float | None = None
    stack: dict[str, Any] = field(default_factory=dict)
    warmup: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    experiments: list[ExperimentSummary] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    teardown: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # the game day could not run (stack did not start, ...)
    interrupted_by: str = ""  # SIGINT / SIGTERM

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else round(self.ended_at - self.started_at, 1)

    @property
    def failed(self) -> list[ExperimentSummary]:
        return [e for e in self.experiments if e.outcome not in (PASSED, NOT_RUN)]

    @property
    def load_under(self) -> dict[str, Any]:
        """The load the game day ran under, keyed by chaos.numbers' `load_*` numbers (each
        defined there once): the users, the requested and achieved requests and checkouts per
        second, the failures (a value None until Locust reported)."""
        return load_numbers(self.load, self.options)

    @property
    def outcome(self) -> str:
        if self.interrupted_by:
            return INTERRUPTED
        if self.error:
            return ERROR
        if self.failed or any(e.outcome == NOT_RUN for e in self.experiments):
            return FAILED
        if self.teardown.get("leftovers"):
            return FAILED
        return PASSED

    @property
    def exit_code(self) -> int:
        """0 passed; 1 a hypothesis failed (or something was left running); 3 the game day
        could not run; 130/143 interrupted by SIGINT/SIGTERM."""
        if self.interrupted_by:
            return int(ExitCode.TERMINATED if self.interrupted_by == "SIGTERM"
                       else ExitCode.INTERRUPTED)
        if self.error:
            return int(ExitCode.UNAVAILABLE)
        return int(ExitCode.OK if self.outcome == PASSED else ExitCode.FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1, "outcome": self.outcome, "exit_code": self.exit_code,
            "started_at": self.started_at, "ended_at": self.ended_at,
            "duration_s": self.duration_s, "seed": self.seed, "options": dict(self.options),
            "error": self.error, "interrupted_by": self.interrupted_by,
            "failed": [{"name": e.name, "title": e.title, "outcome": e.outcome, "why": e.why()}
                       for e in self.failed],
            "experiments": [e.to_dict() for e in self.experiments],
            "budgets": [b.to_dict() for b in self.budgets],
            "load_under": self.load_under,
            "stack": dict(self.stack), "warmup": dict(self.warmup), "load": dict(self.load),
            "teardown": dict(self.teardown),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GameDayResult:
        return cls(
            started_at=data["started_at"], seed=data["seed"],
            options=dict(data.get("options") or {}), ended_at=data.get("ended_at"),
            stack=dict(data.get("stack") or {}), warmup=dict(data.get("warmup") or {}),
            load=dict(data.get("load") or {}),
            experiments=[ExperimentSummary.from_dict(e) for e in data.get("experiments", [])],
            budgets=[Budget(b["name"], b["title"], b["goal_s"], b["observed_s"],
                            b.get("source", "")) for b in data.get("budgets", [])],
            teardown=dict(data.get("teardown") or {}), error=data.get("error", ""),
            interrupted_by=data.get("interrupted_by", ""),
        )
