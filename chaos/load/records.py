"""What the load records — every request, every order it got a 202 for — and the numbers
made from the requests (rates, percentiles)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One request: when it started (epoch), how long it took, what it was, how it ended.
    status 0 = no HTTP answer (connection refused/reset, timeout)."""

    t: float
    duration_s: float
    name: str
    status: int
    retry_after: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PlacedOrder:
    """An order the load (or an action) got a 202 for."""

    order_id: str
    shopper_id: str
    token: str
    accepted_at: float
    status: str | None = None


class Recorder:
    """Thread-safe append-only list of records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)


def in_window(records: Iterable[RequestRecord], start: float, end: float,
              name: str | None = None) -> list[RequestRecord]:
    return [r for r in records if start <= r.t < end and (name is None or r.name == name)]


def status_matches(status: int, spec: int | str) -> bool:
    """`spec` is an exact status (503), a class ("5xx"), "error" (no answer or 5xx) or
    "no-answer" (status 0)."""
    if isinstance(spec, int):
        return status == spec
    if spec == "error":
        return status == 0 or status >= 500
    if spec == "no-answer":
        return status == 0
    if len(spec) == 3 and spec.endswith("xx") and spec[0].isdigit():
        return status // 100 == int(spec[0])
    return str(status) == spec


def failed_request(record: RequestRecord) -> bool:
    """What counts against an error budget: no answer, or a 5xx that is not a clean shed (a
    503 carrying Retry-After, which Locust also counts as a success)."""
    if record.status == 0:
        return True
    return record.status >= 500 and not (record.status == 503 and record.retry_after)


def rate(records: list[RequestRecord], spec: int | str) -> float | None:
    """Fraction of records whose status matches `spec`; None without records."""
    if not records:
        return None
    return sum(1 for r in records if status_matches(r.status, spec)) / len(records)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def per_second(records: Iterable[RequestRecord], start: float, end: float
               ) -> list[dict[str, Any]]:
    """Buckets of one second from `start` to `end` (the span the load ran; the last one
    between 0.5 and 1.5 s, its `width` saying how long): {t, width, ok, rejected (503/429),
    client (4xx), errors (5xx/none)} — counts, a rate once divided by the width."""
    n = max(0, math.ceil(end - start))
    buckets = [{"t": start + i, "width": round(min(1.0, end - start - i), 3), "ok": 0,
                "rejected": 0, "client": 0, "errors": 0} for i in range(n)]
    for r in records:
        i = int(r.t - start) if r.t < end else n
        if 0 <= i < n:
            key = ("ok" if r.status < 400 and r.status else
                   "rejected" if r.status in (429, 503) else
                   "client" if 400 <= r.status < 500 else "errors")
            buckets[i][key] += 1
    return merge_last_sliver(buckets)


def merge_last_sliver(buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A last bucket under half a second joins the one before it (a few tenths of a second
    without a request starting say nothing about the rate)."""
    if len(buckets) < 2 or buckets[-1].get("width", 1.0) >= 0.5:
        return buckets
    *head, before, last = buckets
    merged = {k: (before[k] + last[k] if k not in ("t", "width") else before[k])
              for k in before}
    merged["width"] = round(before.get("width", 1.0) + last.get("width", 1.0), 3)
    return [*head, merged]
