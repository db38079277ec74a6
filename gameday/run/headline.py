"""The headline numbers of one experiment, picked from what chaos.runner computed (its
`numbers`, each defined once in chaos.numbers): when the protection noticed the fault
(detection), when the shop was back to normal (recovery), the orders lost; and the game day's
Locust users during each experiment (context beside its error budget). Pure functions."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from chaos.numbers import title
from gameday.run.results import Timing

# the numbers that can be the headline, in order of preference (their titles: chaos.numbers)
DETECTION_KEYS = ("time_to_breaker_open_s", "time_to_alarm_s")
RECOVERY_KEYS = ("time_to_breaker_closed_s", "backlog_drained_s", "replacement_s",
                 "time_to_alarm_ok_s")


def keyed(numbers: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """[(what, value)] for numbers named `prefix[what]`."""
    out = []
    for key, value in numbers.items():
        if key.startswith(prefix + "[") and key.endswith("]"):
            out.append((key[len(prefix) + 1:-1], value))
    return sorted(out)


def _label(prefix: str, whats: list[str]) -> str:
    return title(f"{prefix}[{'/'.join(w.removeprefix('shop-') for w in whats)}]")


def detection(numbers: dict[str, Any]) -> Timing | None:
    """The earliest detection (breaker open, alarm) after the fault started; a Timing with
    seconds None when the experiment watched for one and it never came; None when it watched
    for none."""
    for prefix in DETECTION_KEYS:
        found = keyed(numbers, prefix)
        if not found:
            continue
        seen = [(v, what) for what, v in found if isinstance(v, int | float)]
        if seen:
            value, what = min(seen)
            return Timing(_label(prefix, [what]), float(value))
        return Timing(_label(prefix, [w for w, _ in found]), None)
    return None


def recovery(numbers: dict[str, Any]) -> Timing | None:
    """How long after the fault ended the shop was back (breaker closed, backlog drained,
    replica replaced), first kind that applies; seconds None when it never was."""
    for prefix in RECOVERY_KEYS:
        found = keyed(numbers, prefix)
        if not found:
            continue
        seen = [(v, what) for what, v in found if isinstance(v, int | float)]
        if len(seen) == len(found):
            value, what = max(seen)  # recovered when the slowest one did
            return Timing(_label(prefix, [what]), float(value))
        missing = [what for what, v in found if not isinstance(v, int | float)]
        return Timing(_label(prefix, missing), None)
    return None


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


def orders(numbers: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(accepted, lost, duplicates) of the experiment's probe load."""
    def num(key: str) -> int | None:
        value = numbers.get(key)
        return int(value) if isinstance(value, int | float) else None

    return num("orders_accepted"), num("orders_lost"), num("duplicate_orders")


def attach_locust(experiments: list[Any], history: list[tuple[float, int, int]]) -> None:
    """Add the Locust users' requests and failures during each experiment (context: the
    experiment's error budget judges its own probe load)."""
    if not history:
        return
    for exp in experiments:
        if exp.started_at is None or exp.ended_at is None:
            continue
        requests, failures = locust_window(history, exp.started_at, exp.ended_at)
        span = exp.ended_at - exp.started_at
        exp.locust = {"requests": requests, "failures": failures,
                      "rps": round(requests / span, 2) if span > 0 else None}
