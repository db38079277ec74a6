"""The headline numbers of one experiment, from what chaos.runner computed (its `numbers`) and
the requests its load made: when the protection noticed the fault (detection), when the shop
was back to normal (recovery), the error budget used, the orders lost. Pure functions."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gameday.run.results import ErrorBudget, Timing

# the availability objective during a game day: 99 % of requests succeed
ERROR_BUDGET_RATIO = 0.01

# number key prefix → label, in order of preference
DETECTION_KEYS = (("time_to_breaker_open_s", "{} breaker open"), ("time_to_alarm_s", "{} ALARM"))
RECOVERY_KEYS = (("time_to_breaker_closed_s", "{} breaker closed"),
                 ("backlog_drained_s", "{} backlog drained"),
                 ("replacement_s", "{} replaced"),
                 ("time_to_alarm_ok_s", "{} OK"))


def keyed(numbers: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """[(what, value)] for numbers named `prefix[what]`."""
    out = []
    for key, value in numbers.items():
        if key.startswith(prefix + "[") and key.endswith("]"):
            out.append((key[len(prefix) + 1:-1], value))
    return sorted(out)


def _short_alarm(name: str) -> str:
    return name.removeprefix("shop-")


def detection(numbers: dict[str, Any]) -> Timing | None:
    """The earliest detection (breaker open, alarm) after the fault started; a Timing with
    seconds None when the experiment watched for one and it never came; None when it watched
    for none."""
    for prefix, label in DETECTION_KEYS:
        found = keyed(numbers, prefix)
        if not found:
            continue
        seen = [(v, what) for what, v in found if isinstance(v, int | float)]
        if seen:
            value, what = min(seen)
            return Timing(label.format(_short_alarm(what)), float(value))
        return Timing(label.format("/".join(_short_alarm(w) for w, _ in found)), None)
    return None


def recovery(numbers: dict[str, Any]) -> Timing | None:
    """How long after the fault ended the shop was back (breaker closed, backlog drained,
    replica replaced), first kind that applies; seconds None when it never was."""
    for prefix, label in RECOVERY_KEYS:
        found = keyed(numbers, prefix)
        if not found:
            continue
        seen = [(v, what) for what, v in found if isinstance(v, int | float)]
        if len(seen) == len(found):
            value, what = max(seen)  # recovered when the slowest one did
            return Timing(label.format(_short_alarm(what)), float(value))
        missing = [what for what, v in found if not isinstance(v, int | float)]
        return Timing(label.format("/".join(_short_alarm(w) for w in missing)), None)
    return None


def request_failed(status: int, retry_after: bool) -> bool:
    """No answer, or a 5xx that is not a clean shed (503 with Retry-After)."""
    if status == 0:
        return True
    return status >= 500 and not (status == 503 and retry_after)


def count_probe_requests(records: Iterable[Any]) -> tuple[int, int]:
    """(requests, failed) of the experiment's own load (chaos.load.records.RequestRecord)."""
    total = failed = 0
    for record in records:
        total += 1
        failed += request_failed(int(record.status), bool(record.retry_after))
    return total, failed


def read_locust_history(path: Path) -> list[tuple[float, int, int]]:
    """[(epoch, total requests, total failures)] from Locust's `_stats_history.csv`
    (Aggregated rows, cumulative counts, one row a second)."""
    rows: list[tuple[float, int, int]] = []
    try:
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("Name") != "Aggregated":
                    continue
                try:
                    rows.append((float(row["Timestamp"]), int(float(row["Total Request Count"])),
                                 int(float(row["Total Failure Count"]))))
                except (KeyError, ValueError):
                    continue
    except FileNotFoundError:
        return []
    return sorted(rows)


def locust_window(history: list[tuple[float, int, int]], start: float, end: float
                  ) -> tuple[int, int]:
    """(requests, failures) Locust counted between start and end (from cumulative rows)."""
    if not history:
        return 0, 0

    def at(t: float) -> tuple[int, int]:
        before = [(r, f) for ts, r, f in history if ts <= t]
        return before[-1] if before else (0, 0)

    r0, f0 = at(start)
    r1, f1 = at(end)
    return max(0, r1 - r0), max(0, f1 - f0)


def error_budget(probe: tuple[int, int] | None, locust: tuple[int, int] | None,
                 ratio: float = ERROR_BUDGET_RATIO) -> ErrorBudget | None:
    """The budget of one experiment from (requests, failed) of each load; None without any."""
    if probe is None and locust is None:
        return None
    budget = ErrorBudget(ratio)
    if probe is not None:
        budget.probe_requests, budget.probe_failed = probe
    if locust is not None:
        budget.locust_requests, budget.locust_failed = locust
    return budget


def orders(numbers: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(accepted, lost, duplicates) of the experiment's probe load."""
    def num(key: str) -> int | None:
        value = numbers.get(key)
        return int(value) if isinstance(value, int | float) else None

    return num("orders_accepted"), num("orders_lost"), num("duplicate_orders")


def returned_at(events: list[dict[str, Any]], service: str, since: float) -> float | None:
    """When the first replica of `service` was healthy again after `since` (the supervisor's
    `replaced` events)."""
    times = [float(e["ts"]) for e in events
             if e.get("kind") == "replaced" and str(e.get("process", "")).startswith(service)
             and float(e.get("ts", 0)) >= since]
    return min(times) if times else None


def breaker_closed_after_return(points: list[tuple[float, Any]], returned: float | None
                                ) -> float | None:
    """Seconds from the dependency's return until its breaker is closed for good (sampled
    states [(epoch, state)]); None if it never closed after the return."""
    if returned is None:
        return None
    later = [(t, v) for t, v in points if t >= returned]
    if not later or later[-1][1] != "closed":
        return None
    settled = later[-1][0]
    for t, v in reversed(later):
        if v != "closed":
            break
        settled = t
    return round(max(0.0, settled - returned), 3)


def attach_locust(experiments: list[Any], history: list[tuple[float, int, int]],
                  ratio: float = ERROR_BUDGET_RATIO) -> None:
    """Add the Locust users' requests during each experiment to its error budget."""
    if not history:
        return
    for exp in experiments:
        if exp.started_at is None or exp.ended_at is None:
            continue
        counts = locust_window(history, exp.started_at, exp.ended_at)
        if exp.error_budget is None:
            exp.error_budget = ErrorBudget(ratio)
        exp.error_budget.locust_requests, exp.error_budget.locust_failed = counts
