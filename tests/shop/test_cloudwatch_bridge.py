"""Unit tests of the Prometheus → CloudWatch bridge: what a flush publishes, and what it reads."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from reference_app import cloudwatch as cw
from reference_app import metrics
from reference_app.cloudwatch_bridge import PrometheusToCloudWatch


def _by_name(datums: list[Any]) -> dict[str, list[tuple[float, str, dict[str, str]]]]:
    found: dict[str, list[tuple[float, str, dict[str, str]]]] = {}
    for name, value, unit, dims in datums:
        found.setdefault(name, []).append((value, unit, dims))
    return found


def test_a_flush_publishes_what_changed_since_the_last() -> None:
    service = "bridge-test"
    bridge = PrometheusToCloudWatch(service)
    list(bridge.datums())  # the baseline: whatever other tests counted in this process

    for status in ("200", "200", "503"):
        metrics.HTTP_REQUESTS.labels(service, "/v1/x", "GET", status).inc()
    metrics.HTTP_DURATION.labels(service, "/v1/x", "GET").observe(0.010)
    metrics.HTTP_DURATION.labels(service, "/v1/x", "GET").observe(0.030)
    metrics.CACHE_REQUESTS.labels("bridge", "hit").inc(3)
    metrics.CACHE_REQUESTS.labels("bridge", "miss").inc()
    metrics.ORDERS.labels("placed").inc(2)
    metrics.BREAKER_STATE.labels("bridge-dep", "open").set(1)

    found = _by_name(list(bridge.datums()))
    svc = {"Service": service}
    assert found[cw.HTTP_REQUESTS] == [(3.0, "Count", svc)]
    assert found[cw.HTTP_5XX] == [(1.0, "Count", svc)]
    [(latency, unit, _)] = found[cw.LATENCY]
    assert unit == "Milliseconds" and latency == pytest.approx(20.0)
    assert found[cw.CACHE_HITS] == [(3.0, "Count", svc)]
    assert found[cw.CACHE_MISSES] == [(1.0, "Count", svc)]
    assert found[cw.ORDERS_PLACED] == [(2.0, "Count", {})]
    assert (1.0, "Count", {"Dependency": "bridge-dep"}) in found[cw.BREAKER_OPEN]

    # nothing new: the counters' deltas are 0, the breaker gauge is sent again
    again = _by_name(list(bridge.datums()))
    assert again[cw.HTTP_REQUESTS] == [(0.0, "Count", svc)]
    assert cw.LATENCY not in again and cw.ORDERS_PLACED not in again
    assert (1.0, "Count", {"Dependency": "bridge-dep"}) in again[cw.BREAKER_OPEN]
    metrics.BREAKER_STATE.labels("bridge-dep", "open").set(0)


def test_a_flush_reads_the_shops_metrics_not_the_whole_registry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: each flush (every second, in every replica) walked the whole default registry
    once per published metric, ten times, process collector's /proc reads included."""
    walks = []
    real_collect = REGISTRY.collect

    def counting_collect() -> Any:
        walks.append(1)
        return real_collect()

    monkeypatch.setattr(REGISTRY, "collect", counting_collect)
    bridge = PrometheusToCloudWatch("bridge-walks")
    list(bridge.datums())
    assert walks == []
