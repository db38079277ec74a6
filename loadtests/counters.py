"""Our own metrics next to Locust's request statistics: conflicts, shed requests, order outcomes.

Custom event: `environment.events.cart_conflict`, fired with
`user` (the User instance), `route` (template), `kind` ("http_409" or "occ_retry"),
`count` (1 for a 409, the X-OCC-Retries value otherwise), `status` and `code` (the shop's
error code). The installed listener adds the count to the counter `conflicts.<kind>` (so
`conflicts.http_409` and `conflicts.occ_retries`, per route) and 409s also to
`conflicts.http_409_by_code` (per error code, e.g. cart_checking_out).
Other counters: `shed.http_503`, `cart.stale_remove`, `orders.<STATUS>` and
`orders.poll_bound_reached`.

Counters live on the Environment (one set per run, reset at test start) and are sent from
workers to the master with Locust's report_to_master/worker_report events.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from locust.event import EventHook

CONFLICT_EVENT = "cart_conflict"
CONFLICT_KINDS = {"http_409": "conflicts.http_409", "occ_retry": "conflicts.occ_retries"}
_ATTR = "_gameday_counters"
REPORT_KEY = "gameday_counters"


class Counters:
    """Counts per metric name and route template."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, metric: str, route: str, count: int = 1) -> None:
        if count:
            self._data[metric][route] += count

    def total(self, metric: str) -> int:
        return sum(self._data.get(metric, {}).values())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """`{metric: {"total": n, "by_route": {route: n}}}`, sorted for stable output."""
        return {
            metric: {"total": sum(routes.values()), "by_route": dict(sorted(routes.items()))}
            for metric, routes in sorted(self._data.items())
        }

    def raw(self) -> dict[str, dict[str, int]]:
        return {metric: dict(routes) for metric, routes in self._data.items()}

    def merge(self, raw: dict[str, dict[str, int]]) -> None:
        for metric, routes in raw.items():
            for route, count in routes.items():
                self.add(metric, route, int(count))

    def reset(self) -> None:
        self._data.clear()

    def conflicts(self) -> dict[str, Any]:
        """The conflict summary: 409s, OCC retries, and both added up."""
        http_409 = self.total("conflicts.http_409")
        retries = self.total("conflicts.occ_retries")
        return {"total": http_409 + retries, "http_409": http_409, "occ_retries": retries}


def counters_for(environment: Any) -> Counters:
    """The run's counters, created on first use."""
    counters = getattr(environment, _ATTR, None)
    if counters is None:
        counters = Counters()
        setattr(environment, _ATTR, counters)
    return counters


def conflict_hook(environment: Any) -> EventHook:
    """`environment.events.cart_conflict`, created and wired to the counters on first use."""
    events = environment.events
    hook = getattr(events, CONFLICT_EVENT, None)
    if hook is None:
        hook = EventHook()
        setattr(events, CONFLICT_EVENT, hook)

        def count_conflict(route: str, kind: str, count: int = 1, code: str = "",
                           **_kw: Any) -> None:
            counters = counters_for(environment)
            counters.add(CONFLICT_KINDS.get(kind, f"conflicts.{kind}"), route, count)
            if kind == "http_409":
                counters.add("conflicts.http_409_by_code", code or "unknown", count)

        hook.add_listener(count_conflict)
    return hook


def install(environment: Any) -> None:
    """Wire the conflict event, the reset at test start and the worker→master reports."""
    conflict_hook(environment)
    events = environment.events

    def on_test_start(**_kw: Any) -> None:
        counters_for(environment).reset()

    def on_report_to_master(data: dict[str, Any], **_kw: Any) -> None:
        counters = counters_for(environment)
        data[REPORT_KEY] = counters.raw()
        counters.reset()

    def on_worker_report(data: dict[str, Any], **_kw: Any) -> None:
        counters_for(environment).merge(data.get(REPORT_KEY) or {})

    events.test_start.add_listener(on_test_start)
    events.report_to_master.add_listener(on_report_to_master)
    events.worker_report.add_listener(on_worker_report)
