"""A soak: steady load for a long time, measured in buckets, and its drift.

`SoakRecorder` is a plain class driven by a clock (`tick(now)`, about once a second, from
`shapes.SoakShape` inside Locust or from a test): at every bucket boundary (`--soak-bucket`,
one minute by default) it snapshots Locust's running totals and records the bucket's
throughput, p95/p99 and failures (loadtests.windows). `drift()` compares the first and the
last DRIFT_WINDOW_S of the run (pooled requests, not averaged percentiles) and says whether
throughput and p99 stayed within DRIFT_LIMIT; `growth()` does the same for any sampled series
(bench/soak.py: the AWS emulator's RSS over its last RSS_WINDOW_S).

The limits are the issue's soak targets, defined here once; bench/soak.py and the summary read
them. On a run shorter than two windows each window shrinks to a third of the run (at least one
bucket), and the result says which windows it compared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadtests import windows

if TYPE_CHECKING:
    from locust.stats import RequestStats

log = logging.getLogger("loadtests.soak")

DEFAULT_BUCKET_S = 60.0
DRIFT_WINDOW_S = 300.0  # first and last five minutes
DRIFT_LIMIT = 0.15  # throughput and p99 of the last window within 15 % of the first
RSS_WINDOW_S = 1200.0  # the emulator's RSS growth over the last twenty minutes ...
RSS_GROWTH_LIMIT = 0.10  # ... at most 10 %


@dataclass(frozen=True)
class Bucket:
    index: int
    start_s: float  # run time
    end_s: float
    started_at: float  # epoch, to line up with samples taken outside Locust
    ended_at: float
    users: int
    requests: int
    failures: int
    failure_ratio: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def change(first: float | None, last: float | None) -> float | None:
    """(last - first) / first; None when either is missing or first is 0."""
    if first is None or last is None or first == 0:
        return None
    return (last - first) / first


def window_buckets(count: int, bucket_s: float, window_s: float) -> int:
    """How many buckets one drift window spans: window_s, or a third of a shorter run."""
    wanted = max(1, round(window_s / bucket_s))
    return max(1, min(wanted, count // 3 if count >= 3 else 1))


class SoakRecorder:
    """Buckets of a steady run; `tick(now, users)` at least once a second."""

    def __init__(self, bucket_s: float, stats: Callable[[], RequestStats],
                 epoch: Callable[[], float]) -> None:
        if not bucket_s > 0:
            raise ValueError(f"a soak bucket must last more than 0 s, got {bucket_s}")
        self.bucket_s = float(bucket_s)
        self._stats, self._epoch = stats, epoch
        self.buckets: list[Bucket] = []
        self._marks: list[tuple[windows.Snapshot, float]] = []  # (snapshot, epoch) per boundary

    def tick(self, now: float, users: int) -> None:
        if not self._marks:
            self._mark(now)
            return
        if now >= self._marks[-1][0].at + self.bucket_s:
            self.close(now, users)

    def close(self, now: float, users: int) -> None:
        """End the current bucket at `now` (also the last, partial one when the run ends)."""
        if not self._marks or now <= self._marks[-1][0].at:
            return
        start, started_at = self._marks[-1]
        end = self._mark(now)
        numbers = windows.numbers(windows.between(start, end))
        bucket = Bucket(len(self.buckets), round(start.at, 3), round(now, 3),
                        started_at, self._marks[-1][1], users, **numbers)
        self.buckets.append(bucket)
        log.info("soak bucket %d (%.0f-%.0f s): %d users, %.1f req/s, p99 %s ms, "
                 "failures %d", bucket.index + 1, bucket.start_s, bucket.end_s, users,
                 bucket.rps, bucket.p99_ms, bucket.failures)

    def _mark(self, now: float) -> windows.Snapshot:
        mark = windows.snapshot(self._stats(), now)
        self._marks.append((mark, self._epoch()))
        return mark

    def drift(self, window_s: float = DRIFT_WINDOW_S,
              limit: float = DRIFT_LIMIT) -> dict[str, Any] | None:
        """First vs last window: throughput and p99 (requests pooled over each window)."""
        full = [b for b in self.buckets if b.end_s - b.start_s >= 0.5 * self.bucket_s]
        if len(full) < 2:
            return None
        n = window_buckets(len(full), self.bucket_s, window_s)
        marks = [m for m, _ in self._marks]
        first = windows.numbers(windows.between(marks[full[0].index],
                                                marks[full[n - 1].index + 1]))
        last = windows.numbers(windows.between(marks[full[-n].index],
                                               marks[full[-1].index + 1]))
        rps_change = change(first["rps"], last["rps"])
        p99_change = change(first["p99_ms"], last["p99_ms"])
        within = all(c is not None and abs(c) <= limit for c in (rps_change, p99_change))
        return {"window_s": round(n * self.bucket_s, 3), "buckets_per_window": n,
                "limit": limit, "first": first, "last": last,
                "throughput_change": rps_change, "p99_change": p99_change,
                "within": within}

    def describe(self) -> dict[str, Any]:
        return {"bucket_s": self.bucket_s, "buckets": [b.to_dict() for b in self.buckets],
                "drift": self.drift()}


def growth(samples: list[tuple[float, float]], window_s: float = RSS_WINDOW_S,
           limit: float = RSS_GROWTH_LIMIT) -> dict[str, Any] | None:
    """Growth of a sampled series ([(t, value)], t in seconds) over its last window_s (or the
    second half of a shorter series): (last - value at the window's start) / that value."""
    if len(samples) < 2:
        return None
    t_end = samples[-1][0]
    span = t_end - samples[0][0]
    window = window_s if span > window_s else span / 2
    start = next(v for t, v in samples if t >= t_end - window)
    ratio = change(start, samples[-1][1])
    return {"window_s": round(window, 3), "from": start, "to": samples[-1][1],
            "growth": ratio, "limit": limit,
            "within": ratio is not None and ratio <= limit}
