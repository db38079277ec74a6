"""Metrics of the stream runtime: Prometheus on an HTTP /metrics port, and CloudWatch
PutMetricData to the local endpoint the way AWS Lambda publishes them.

Prometheus (label ``function``; iterator age also ``shard``):

* ``stream_runtime_invocations_total``, ``stream_runtime_errors_total``,
  ``stream_runtime_throttles_total``, ``stream_runtime_duration_seconds`` (histogram);
* ``stream_runtime_iterator_age_seconds{function,shard}``: age of the oldest record read but not
  finished, computed at every scrape, so it keeps growing while a shard is stalled (failing or
  throttled) and is 0 when caught up;
* ``stream_runtime_records_total{function,outcome}``, outcome ``read`` | ``processed`` |
  ``on_failure`` | ``discarded`` (``read`` counts every record GetRecords returned: records
  read again after a disable/enable or a restart count again).

CloudWatch, namespace ``AWS/Lambda``, dimension ``FunctionName``, StorageResolution 1:
``Invocations``, ``Errors`` (0 or 1 per invocation, as Lambda reports them), ``Throttles``
(per throttled attempt), ``Duration`` (ms), ``IteratorAge`` (ms: age of the last record of the
batch when it is sent to the function). As on AWS, IteratorAge exists only for invocations: a
throttled or idle consumer publishes none, so an IteratorAge alarm must treat missing data as
breaching. Namespace ``Shop/StreamRuntime`` (same dimension): ``RecordsRead``,
``RecordsProcessed``, ``RecordsSentToOnFailure``, ``RecordsDiscarded``. The event source
mappings' own metrics (``PolledEventCount``... by ``EventSourceMappingUUID``, on when the
mapping's MetricsConfig asks) are ``esm_metrics``'s, reached as ``RuntimeMetrics.esm``.

CloudWatch values are aggregated per metric and second into statistic sets and sent by a
background thread about every second; a failing PutMetricData is logged and counted, never
raised. Why not EMF: nothing local turns EMF log lines into metrics; PutMetricData works the
same against moto and a real account.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from local_stack.stream_runtime.esm_metrics import EsmMetrics

log = logging.getLogger(__name__)

LAMBDA_NAMESPACE = "AWS/Lambda"
RUNTIME_NAMESPACE = "Shop/StreamRuntime"
OUTCOMES = ("read", "processed", "on_failure", "discarded")
_CW_RECORD_METRIC = {
    "read": "RecordsRead",
    "processed": "RecordsProcessed",
    "on_failure": "RecordsSentToOnFailure",
    "discarded": "RecordsDiscarded",
}

IteratorAgeSource = Callable[[], Iterable[tuple[str, str, float]]]


class CloudWatchEmitter:
    """Aggregate datums per (namespace, metric, unit, dimensions, second); flush in the
    background with PutMetricData (StorageResolution=1)."""

    def __init__(self, client_factory: Callable[[], Any], interval_s: float = 1.0) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str, str, tuple[tuple[str, str], ...], int],
                          list[float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.sent = 0

    def add(self, namespace: str, metric: str, value: float, unit: str,
            dimensions: dict[str, str], at: float | None = None) -> None:
        dims = tuple(sorted(dimensions.items()))
        key = (namespace, metric, unit, dims, int(at if at is not None else time.time()))
        with self._lock:
            stat = self._stats.get(key)
            if stat is None:
                self._stats[key] = [1.0, value, value, value]
            else:
                stat[0] += 1
                stat[1] += value
                stat[2] = min(stat[2], value)
                stat[3] = max(stat[3], value)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cloudwatch-emitter",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.flush()

    def flush(self, everything: bool = False) -> int:
        """Send the complete seconds (all of them when `everything`); returns datums sent."""
        now_s = int(time.time())
        by_ns: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            ready = [k for k in self._stats if everything or k[4] < now_s]
            for key in ready:
                count, total, low, high = self._stats.pop(key)
                namespace, metric, unit, dims, second = key
                by_ns.setdefault(namespace, []).append({
                    "MetricName": metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                    "Timestamp": float(second),
                    "StatisticValues": {"SampleCount": count, "Sum": total,
                                        "Minimum": low, "Maximum": high},
                    "Unit": unit,
                    "StorageResolution": 1,
                })
        sent = 0
        for namespace, data in by_ns.items():
            for start in range(0, len(data), 500):
                chunk = data[start:start + 500]
                try:
                    if self._client is None:
                        self._client = self._client_factory()
                    self._client.put_metric_data(Namespace=namespace, MetricData=chunk)
                    sent += len(chunk)
                except Exception as exc:  # publishing is best effort: log, never crash
                    self.failures += 1
                    if self.failures <= 3 or self.failures % 100 == 0:
                        log.warning("PutMetricData to %s failed (%d failures so far): %s",
                                    namespace, self.failures, exc)
        self.sent += sent
        return sent

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush(everything=True)


class _IteratorAgeCollector(Collector):
    def __init__(self, sources: list[IteratorAgeSource]) -> None:
        self._sources = sources

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "stream_runtime_iterator_age_seconds",
            "Age of the oldest stream record read but not yet finished (0 when caught up)",
            labels=["function", "shard"],
        )
        ages: dict[tuple[str, str], float] = {}
        for source in list(self._sources):
            try:
                for function, shard, age in source():
                    key = (function, shard)
                    ages[key] = max(age, ages.get(key, 0.0))
            except Exception:  # a broken source must not break the scrape
                log.exception("iterator age source failed")
        for (function, shard), age in sorted(ages.items()):
            family.add_metric([function, shard], age)
        yield family


HANDLER_METRICS_ENV = "STREAM_RUNTIME_HANDLER_METRICS_DIR"


def handler_metrics_dir() -> str | None:
    """Where workers write their Prometheus files (env STREAM_RUNTIME_HANDLER_METRICS_DIR);
    created empty-if-new; None when unset (handler metrics then stay in the workers)."""
    path = os.environ.get(HANDLER_METRICS_ENV)
    if not path:
        return None
    os.makedirs(path, exist_ok=True)
    return path


class RuntimeMetrics:
    """Everything the runtime reports, to Prometheus and (optionally) CloudWatch."""

    def __init__(self, cloudwatch: CloudWatchEmitter | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.cloudwatch = cloudwatch
        self.invocations = Counter("stream_runtime_invocations", "Function invocations",
                                   ["function"], registry=self.registry)
        self.errors = Counter("stream_runtime_errors", "Invocations that ended in a function "
                              "error", ["function"], registry=self.registry)
        self.throttles = Counter("stream_runtime_throttles", "Throttled invocation attempts",
                                 ["function"], registry=self.registry)
        self.duration = Histogram("stream_runtime_duration_seconds", "Handler duration",
                                  ["function"], registry=self.registry)
        self.records = Counter("stream_runtime_records", "Stream records by outcome",
                               ["function", "outcome"], registry=self.registry)
        self.esm = EsmMetrics(self.registry, cloudwatch)  # the mappings' EventCount group
        self._age_sources: list[IteratorAgeSource] = []
        self.registry.register(_IteratorAgeCollector(self._age_sources))
        self.handler_metrics_dir = handler_metrics_dir()
        if self.handler_metrics_dir:
            # the handlers' own counters (orders completed/cancelled, Second Look alerts...)
            # live in the worker processes: they write prometheus-client's multiprocess files
            # there and this collector adds them to the runtime's /metrics
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(self.registry, path=self.handler_metrics_dir)
        self._http: Any = None
        self._http_thread: threading.Thread | None = None

    def add_iterator_age_source(self, source: IteratorAgeSource) -> None:
        self._age_sources.append(source)

    def remove_iterator_age_source(self, source: IteratorAgeSource) -> None:
        if source in self._age_sources:
            self._age_sources.remove(source)

    # -- events -------------------------------------------------------------------------------
    def invoked(self, function: str, duration_s: float, error: bool,
                iterator_age_s: float) -> None:
        self.invocations.labels(function).inc()
        self.duration.labels(function).observe(duration_s)
        if error:
            self.errors.labels(function).inc()
        else:
            self.errors.labels(function).inc(0)
        self.throttles.labels(function).inc(0)
        if self.cloudwatch is not None:
            dims = {"FunctionName": function}
            cw = self.cloudwatch
            cw.add(LAMBDA_NAMESPACE, "Invocations", 1, "Count", dims)
            cw.add(LAMBDA_NAMESPACE, "Errors", 1 if error else 0, "Count", dims)
            cw.add(LAMBDA_NAMESPACE, "Duration", duration_s * 1000.0, "Milliseconds", dims)
            cw.add(LAMBDA_NAMESPACE, "IteratorAge", max(0.0, iterator_age_s) * 1000.0,
                   "Milliseconds", dims)

    def throttled(self, function: str) -> None:
        self.throttles.labels(function).inc()
        if self.cloudwatch is not None:
            self.cloudwatch.add(LAMBDA_NAMESPACE, "Throttles", 1, "Count",
                                {"FunctionName": function})

    def records_counted(self, function: str, outcome: str, n: int) -> None:
        if n <= 0:
            return
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.records.labels(function, outcome).inc(n)
        if self.cloudwatch is not None:
            self.cloudwatch.add(RUNTIME_NAMESPACE, _CW_RECORD_METRIC[outcome], n, "Count",
                                {"FunctionName": function})

    # -- serving ------------------------------------------------------------------------------
    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve /metrics on host:port (0 = any free port); returns the port."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._http, self._http_thread = server, thread
        return int(server.server_address[1])

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            if self._http_thread is not None:
                self._http_thread.join(timeout=5)
            self._http = None
        if self.cloudwatch is not None:
            self.cloudwatch.close()
