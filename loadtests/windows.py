"""The statistics of one time window, cut out of Locust's running totals.

Locust keeps one running total per route (`environment.stats`; on a master, the sum of its
workers' reports) and, for the "current" numbers, only the last ten seconds or so. A capacity
step or a soak bucket needs the requests of its own window: `snapshot()` copies the counters
(counts and the response-time histogram, not the requests) at a moment, and `between()` gives a
`RequestStats` holding only what was added from one snapshot to the next, so
`gates.evaluate` and `summary.entry_summary` read it as they read a whole run.

Written here rather than taken from Locust because Locust has no windowed statistics beyond its
fixed ten-second cache. Locust is imported only inside `between()`: `capacity` and `soak`,
which use this module, must import without Locust (gevent) for the `gameday` CLI and bench/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from locust.stats import RequestStats, StatsEntry

Key = tuple[str, str]  # (name, method), as Locust keys its entries


@dataclass(frozen=True)
class Counts:
    """One entry's running totals at a moment."""

    requests: int = 0
    none_requests: int = 0
    failures: int = 0
    response_time: float = 0.0
    content_length: int = 0
    response_times: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, entry: Any) -> Counts:
        return cls(entry.num_requests, entry.num_none_requests, entry.num_failures,
                   entry.total_response_time, entry.total_content_length,
                   dict(entry.response_times))

    def minus(self, earlier: Counts) -> Counts:
        """What was added since `earlier`; everything when the totals went down (Locust's
        statistics were reset in between, e.g. a new test from the web UI)."""
        if self.requests < earlier.requests or self.failures < earlier.failures:
            return self
        times = {ms: n - earlier.response_times.get(ms, 0)
                 for ms, n in self.response_times.items()}
        return Counts(self.requests - earlier.requests,
                      self.none_requests - earlier.none_requests,
                      self.failures - earlier.failures,
                      self.response_time - earlier.response_time,
                      self.content_length - earlier.content_length,
                      {ms: n for ms, n in times.items() if n > 0})


@dataclass(frozen=True)
class Snapshot:
    """Every entry's running totals at `at` (seconds, on the caller's clock)."""

    at: float
    total: Counts
    entries: dict[Key, Counts]


def snapshot(stats: RequestStats, at: float) -> Snapshot:
    """Copy the counters of `stats` (cheap: a histogram of rounded times per route)."""
    return Snapshot(at, Counts.of(stats.total),
                    {key: Counts.of(entry) for key, entry in list(stats.entries.items())})


def _fill(entry: StatsEntry, counts: Counts) -> None:
    entry.num_requests = counts.requests
    entry.num_none_requests = counts.none_requests
    entry.num_failures = counts.failures
    entry.total_response_time = counts.response_time
    entry.total_content_length = counts.content_length
    entry.response_times.update(counts.response_times)
    if counts.response_times:
        entry.min_response_time = min(counts.response_times)
        entry.max_response_time = max(counts.response_times)


def between(start: Snapshot, end: Snapshot) -> RequestStats:
    """A RequestStats with the requests made from `start` to `end`; its rates are per second
    of that window (start.at .. end.at)."""
    from locust.stats import RequestStats

    window = RequestStats(use_response_times_cache=False)
    _fill(window.total, end.total.minus(start.total))
    for (name, method), counts in end.entries.items():
        added = counts.minus(start.entries.get((name, method), Counts()))
        if added.requests or added.failures:
            _fill(window.entries[(name, method)], added)
    # Locust reads a start time of 0 as "not started" (rate 0): shift a window that starts at
    # a run time of 0; its length, all the rates depend on, stays the same.
    shift = max(0.0, 1.0 - start.at)
    window.total.start_time = start.at + shift
    window.total.last_request_timestamp = end.at + shift if end.at > start.at else None
    return window


def numbers(window: RequestStats) -> dict[str, Any]:
    """requests, failures, failure_ratio, rps, p50/p95/p99 (ms) of a window's total."""
    from loadtests.summary import entry_summary

    total = entry_summary(window.total)
    return {k: total[k] for k in ("requests", "failures", "failure_ratio", "rps",
                                  "p50_ms", "p95_ms", "p99_ms")}
