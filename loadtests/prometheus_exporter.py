"""Prometheus metrics of a Locust run, served on their own port by the master (or the single
local runner): what the "Load" Grafana dashboard reads.

Load it next to the locustfile (Locust accepts several comma-separated files) and give it a
port; workers load it too and serve nothing (the master holds the aggregated statistics):

    locust -f loadtests/locustfile.py,loadtests/prometheus_exporter.py --prometheus-port 9646
    LOCUST_PROMETHEUS_PORT=9646 locust -f loadtests/locustfile.py,loadtests/prometheus_exporter.py

`--prometheus-host` (default 127.0.0.1; compose uses 0.0.0.0 inside its container). Without a
port nothing is served. Every value is computed from Locust's statistics at scrape time:

- `locust_users` (gauge): users running now;
- `locust_workers` (gauge): connected workers (1 for a local runner);
- `locust_runner_state{state}` (gauge, 1 for the current state);
- `locust_requests_total{method,name}`, `locust_failures_total{method,name}` (counters; `name`
  is the route template, `Aggregated` Locust's total row);
- `locust_errors_total{method,name,error}` (counter; the error's first 120 characters);
- `locust_response_time_seconds{method,name}` (histogram rebuilt from Locust's rounded
  response times, for `histogram_quantile` over a window);
- `locust_response_time_percentile_seconds{method,name,quantile}` (gauge: since the run
  started, as in Locust's report);
- `locust_gameday_events_total{counter,route}` (counter: the load test's own counters, e.g.
  `conflicts.http_409`, `shed.http_503`, `orders.COMPLETED`).

Counters restart from 0 when Locust resets its statistics (a new run from the web UI);
Prometheus' `rate()` and `increase()` handle that as a counter reset.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

log = logging.getLogger("loadtests.prometheus_exporter")

# Histogram bucket bounds in milliseconds (Locust records whole milliseconds).
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
QUANTILES = (0.5, 0.95, 0.99)
RUNNER_STATES = ("ready", "spawning", "running", "cleanup", "stopping", "stopped", "missing")
MAX_ERROR_LABEL = 120
_INSTALLED_ATTR = "_gameday_prometheus_installed"
_SERVER_ATTR = "_gameday_prometheus_server"


def histogram_buckets(response_times: dict[int, int],
                      bounds_ms: Iterable[int] = BUCKETS_MS) -> list[tuple[str, float]]:
    """Cumulative `(le, count)` pairs in seconds from Locust's `{rounded_ms: count}` dict,
    ending with `+Inf` (the total)."""
    bounds = sorted(bounds_ms)
    cumulative: list[tuple[str, float]] = []
    for bound in bounds:
        count = sum(n for ms, n in response_times.items() if ms <= bound)
        cumulative.append((_seconds_label(bound), float(count)))
    cumulative.append(("+Inf", float(sum(response_times.values()))))
    return cumulative


def _seconds_label(ms: int) -> str:
    return repr(ms / 1000.0)


def _entries(stats: Any) -> Iterator[tuple[str, str, Any]]:
    for (name, method), entry in sorted(stats.entries.items(), key=lambda kv: (kv[0][0],
                                                                               kv[0][1] or "")):
        yield method or "", name, entry
    yield "", "Aggregated", stats.total


class LocustCollector(Collector):
    """Reads a Locust environment's runner and statistics at every scrape."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment

    def collect(self) -> Iterator[Metric]:
        env = self.environment
        runner = env.runner
        users = GaugeMetricFamily("locust_users", "Locust users running now")
        users.add_metric([], float(getattr(runner, "user_count", 0) or 0))
        yield users
        workers = GaugeMetricFamily("locust_workers",
                                    "Connected Locust workers (1 for a local runner)")
        workers.add_metric([], float(getattr(runner, "worker_count", 0) or 0))
        yield workers
        state = GaugeMetricFamily("locust_runner_state",
                                  "1 for the runner's current state", labels=["state"])
        current = str(getattr(runner, "state", "") or "")
        for name in RUNNER_STATES:
            state.add_metric([name], 1.0 if current == name else 0.0)
        yield state

        stats = env.stats
        requests = CounterMetricFamily("locust_requests", "Requests made (failures included)",
                                       labels=["method", "name"])
        failures = CounterMetricFamily("locust_failures", "Requests that failed",
                                       labels=["method", "name"])
        latency = HistogramMetricFamily("locust_response_time_seconds",
                                        "Response times as Locust measured them",
                                        labels=["method", "name"])
        percentiles = GaugeMetricFamily(
            "locust_response_time_percentile_seconds",
            "Response time percentiles since the run started (Locust's own computation)",
            labels=["method", "name", "quantile"])
        for method, name, entry in _entries(stats):
            requests.add_metric([method, name], float(entry.num_requests))
            failures.add_metric([method, name], float(entry.num_failures))
            times = dict(entry.response_times)
            latency.add_metric([method, name], histogram_buckets(times),
                               float(entry.total_response_time) / 1000.0)
            if times:
                for quantile in QUANTILES:
                    value = entry.get_response_time_percentile(quantile) or 0
                    percentiles.add_metric([method, name, str(quantile)], float(value) / 1000.0)
        yield requests
        yield failures
        yield latency
        yield percentiles

        errors = CounterMetricFamily("locust_errors", "Failures by error message",
                                     labels=["method", "name", "error"])
        for error in stats.errors.values():
            errors.add_metric([error.method or "", error.name,
                               str(error.error)[:MAX_ERROR_LABEL]], float(error.occurrences))
        yield errors

        events = CounterMetricFamily(
            "locust_gameday_events",
            "The load test's own counters (conflicts, shed requests, order outcomes)",
            labels=["counter", "route"])
        for counter, route, count in _gameday_counters(env):
            events.add_metric([counter, route], float(count))
        yield events


def _gameday_counters(environment: Any) -> list[tuple[str, str, int]]:
    try:
        from loadtests.counters import counters_for
    except ImportError:  # used without the shop's locustfile
        return []
    raw = counters_for(environment).raw()
    return [(metric, route, count) for metric, routes in sorted(raw.items())
            for route, count in sorted(routes.items())]


def build_registry(environment: Any) -> CollectorRegistry:
    """A registry holding only the Locust collector of `environment`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LocustCollector(environment))
    return registry


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("gameday: Prometheus exporter")
    group.add_argument("--prometheus-port", type=int, default=None,
                       env_var="LOCUST_PROMETHEUS_PORT",
                       help="serve Prometheus /metrics of the run on this port (master or "
                            "local runner only; default: off)")
    group.add_argument("--prometheus-host", default="127.0.0.1",
                       env_var="LOCUST_PROMETHEUS_HOST",
                       help="address for --prometheus-port (default 127.0.0.1)")


def start_server(environment: Any, host: str, port: int) -> Any:
    """Serve /metrics (any path) for `environment` with gevent's WSGI server; returns it."""
    from gevent.pywsgi import WSGIServer

    app = make_wsgi_app(build_registry(environment))
    server = WSGIServer((host, port), app, log=None)
    server.start()
    log.info("Prometheus metrics of the run on http://%s:%d/metrics", host,
             server.server_port)
    return server


def on_init(environment: Any, runner: Any = None, **_kw: Any) -> None:
    from locust.runners import WorkerRunner

    options = environment.parsed_options
    port = getattr(options, "prometheus_port", None) if options is not None else None
    if port is None or isinstance(runner, WorkerRunner):
        return
    host = getattr(options, "prometheus_host", "127.0.0.1") or "127.0.0.1"
    setattr(environment, _SERVER_ATTR, start_server(environment, host, int(port)))


def on_quitting(environment: Any, **_kw: Any) -> None:
    server = getattr(environment, _SERVER_ATTR, None)
    if server is not None:
        server.stop(timeout=1)


def install(events: Any) -> None:
    """Register the exporter's listeners on Locust's events (idempotent)."""
    if getattr(events, _INSTALLED_ATTR, False):
        return
    setattr(events, _INSTALLED_ATTR, True)
    events.init_command_line_parser.add_listener(add_arguments)
    events.init.add_listener(on_init)
    events.quitting.add_listener(on_quitting)


def _install_when_loaded_by_locust() -> None:
    # Only when Locust itself is loading this file: importing Locust from anywhere else would
    # monkey-patch the importing process with gevent (see loadtests.locust_free).
    locust = sys.modules.get("locust")
    events = getattr(locust, "events", None)
    if events is not None:
        install(events)


_install_when_loaded_by_locust()
