"""Business and RED metrics to CloudWatch, as a team on AWS would publish them.

Values are aggregated in process into statistic sets (SampleCount, Sum, Minimum, Maximum) per
metric, dimensions and second, and a background thread sends them with PutMetricData at
1-second storage resolution (high-resolution metrics, so alarms can use 10-second periods).
Gauges registered with `add_gauge` are sampled at every flush, so a state such as "breaker
open" is published every second even when no request arrives.

Why not the EMF library: Embedded Metric Format needs the CloudWatch agent or Lambda's log
pipeline to turn log lines into metrics; locally nothing does that, while PutMetricData works the
same against the local endpoint and a real account.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

NAMESPACE = "Shop"

# Metric names in the Shop namespace (CloudWatch conventions: PascalCase, unit in the metadata).
ORDERS_PLACED = "OrdersPlaced"
ORDERS_COMPLETED = "OrdersCompleted"
ORDERS_CANCELLED = "OrdersCancelled"
HTTP_REQUESTS = "HttpRequests"
HTTP_5XX = "Http5xx"
LATENCY = "Latency"
PAYMENT_LATENCY = "PaymentLatency"
BREAKER_OPEN = "BreakerOpen"
BREAKER_TRANSITIONS = "BreakerTransitions"
OCC_CONFLICTS = "OccConflicts"
CACHE_HITS = "CacheHits"
CACHE_MISSES = "CacheMisses"
# heartbeat records a stream consumer acknowledged (dimension FunctionName): its liveness signal
CONSUMER_HEARTBEATS = "ConsumerHeartbeats"

Dimensions = tuple[tuple[str, str], ...]
GaugeFn = Callable[[], Iterable[tuple[str, float, str, dict[str, str]]]]


class CloudWatchPublisher:
    """Aggregate locally, flush every `interval_s` with PutMetricData (StorageResolution=1)."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        namespace: str = NAMESPACE,
        interval_s: float = 1.0,
        enabled: bool = True,
    ) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self.namespace = namespace
        self.interval_s = interval_s
        self.enabled = enabled
        self._lock = threading.Lock()
        # (metric, unit, dims, second) -> [count, sum, min, max]
        self._stats: dict[tuple[str, str, Dimensions, int], list[float]] = {}
        self._gauges: list[GaugeFn] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def add(self, metric: str, value: float = 1.0, unit: str = "Count",
            dimensions: dict[str, str] | None = None) -> None:
        if not self.enabled:
            return
        dims: Dimensions = tuple(sorted((dimensions or {}).items()))
        key = (metric, unit, dims, int(time.time()))
        with self._lock:
            stat = self._stats.get(key)
            if stat is None:
                self._stats[key] = [1, value, value, value]
            else:
                stat[0] += 1
                stat[1] += value
                stat[2] = min(stat[2], value)
                stat[3] = max(stat[3], value)
        self._ensure_started()

    def add_gauge(self, fn: GaugeFn) -> None:
        """`fn()` yields (metric, value, unit, dimensions), sampled at every flush."""
        self._gauges.append(fn)
        if self.enabled:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="cloudwatch-publisher", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.flush()

    def _drain(self, now_s: int) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = []
        with self._lock:
            ready = [k for k in self._stats if k[3] < now_s]
            for key in ready:
                count, total, low, high = self._stats.pop(key)
                metric, unit, dims, second = key
                data.append({
                    "MetricName": metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                    "Timestamp": float(second),
                    "StatisticValues": {"SampleCount": count, "Sum": total,
                                        "Minimum": low, "Maximum": high},
                    "Unit": unit,
                    "StorageResolution": 1,
                })
        for fn in self._gauges:
            try:
                for metric, value, unit, dims in fn():
                    data.append({
                        "MetricName": metric,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in sorted(dims.items())],
                        "Timestamp": float(now_s),
                        "Value": value,
                        "Unit": unit,
                        "StorageResolution": 1,
                    })
            except Exception:  # a broken gauge must not stop the others
                log.exception("gauge callback failed")
        return data

    def flush(self) -> int:
        """Send what is complete (earlier seconds) plus the gauges; returns datums sent."""
        data = self._drain(int(time.time()))
        sent = 0
        for start in range(0, len(data), 500):  # PutMetricData takes up to 1000 datums
            chunk = data[start:start + 500]
            try:
                if self._client is None:
                    self._client = self._client_factory()
                self._client.put_metric_data(Namespace=self.namespace, MetricData=chunk)
                sent += len(chunk)
            except Exception as exc:  # publishing is best effort, never a request failure
                self.failures += 1
                if self.failures in (1, 10) or self.failures % 100 == 0:
                    log.warning("PutMetricData failed (%d times so far): %s", self.failures, exc)
        return sent

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        time.sleep(max(0.0, 1.0 - (time.time() % 1.0)) + 0.01)
        self.flush()
