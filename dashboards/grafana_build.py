"""The Grafana dashboards, written as code: `python -m dashboards.grafana_build` writes
`dashboards/grafana/<uid>.json` (the files Grafana provisions and `gameday dashboards push`
uploads); `--check` exits 1 when a file differs from what this module builds.

Every dashboard has a stable UID, a `datasource` variable (type prometheus, so the same JSON
works with any Prometheus data source), the chaos annotations (Grafana annotations tagged
`chaos`, as `chaos run --grafana-url` and `dashboards.grafana_annotations` write them) and the
firing Prometheus alerts as annotations. Metric names are the ones the running stack exports:
the shop (docs/shop.md), the stream runtime, the alarm evaluator, the saga exporter
(local_stack/saga_exporter.py) and the Locust exporter (loadtests/prometheus_exporter.py).

Rate windows use `$__rate_interval`; totals over the dashboard's time range use `$__range`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the order statuses the saga exporter counts as in flight (local_stack.saga_exporter.IN_FLIGHT;
# this package may not import it: local_stack imports dashboards). A test keeps them equal.
IN_FLIGHT_STATUSES = ("AUTHORIZING", "PENDING", "RESERVED", "PAID")

GRAFANA_DIR = Path(__file__).resolve().parent / "grafana"
DS = {"type": "prometheus", "uid": "${datasource}"}
GRAFANA_DS = {"type": "grafana", "uid": "-- Grafana --"}
TAG = "shop-gameday"
CHAOS_TAG = "chaos"
SCHEMA_VERSION = 39
USER_ROUTES = 'route!~"/health|/metrics"'  # scrapes and health checks are not shop traffic
STATUS_5XX = 'status=~"5.."'
STATUS_4XX = 'status=~"4.."'

GREEN, ORANGE, RED, YELLOW, BLUE = "green", "orange", "red", "yellow", "blue"


# -- panel pieces ---------------------------------------------------------------------------------


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    """A Prometheus range query of a panel."""
    return {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto",
            "range": True, "instant": False, "refId": ref}


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    """Absolute thresholds: (None, base colour), then (value, colour) upwards."""
    return {"mode": "absolute",
            "steps": [{"color": colour, "value": value} for value, colour in steps]}


def value_mappings(mapping: dict[int, tuple[str, str]],
                   ranges: Iterable[tuple[float, float, str, str]] = ()) -> list[dict[str, Any]]:
    """Value → (text, colour) mappings, plus (from, to, text, colour) ranges."""
    out: list[dict[str, Any]] = [{
        "type": "value",
        "options": {str(value): {"text": text, "color": colour, "index": i}
                    for i, (value, (text, colour)) in enumerate(sorted(mapping.items()))},
    }]
    for start, end, text, colour in ranges:
        out.append({"type": "range",
                    "options": {"from": start, "to": end,
                                "result": {"text": text, "color": colour}}})
    return out


BREAKER_MAPPINGS = value_mappings({0: ("closed", GREEN), 1: ("half-open", YELLOW),
                                   2: ("open", RED)}, [(2, 3, "open", RED)])
ALARM_MAPPINGS = value_mappings({0: ("OK", GREEN), 1: ("ALARM", RED)})
ALERT_MAPPINGS = value_mappings({1: ("pending", ORANGE), 2: ("firing", RED)})

# Threshold sets shared by several panels.
# Red from 1 up: an alarm in ALARM (ALARM_MAPPINGS), or a count of what should not happen.
RED_FROM_1 = thresholds((None, GREEN), (1, RED))
ORANGE_FROM_1 = thresholds((None, GREEN), (1, ORANGE))
RED_ABOVE_0 = thresholds((None, GREEN), (0.001, RED))  # any rate at all
ALERT_THRESHOLDS = thresholds((None, ORANGE), (2, RED))  # for ALERT_MAPPINGS: 1 pending, 2 firing
BREAKER_THRESHOLDS = thresholds((None, GREEN), (1, YELLOW), (2, RED))  # for BREAKER_MAPPINGS
LATENCY_THRESHOLDS = thresholds((None, GREEN), (0.5, ORANGE), (1.0, RED))  # seconds
RATIO_THRESHOLDS = thresholds((None, GREEN), (0.01, ORANGE), (0.05, RED))  # 1 %, 5 %
AGE_THRESHOLDS = thresholds((None, GREEN), (1, ORANGE), (3, RED))  # IteratorAge, seconds
COUNT_THRESHOLDS = thresholds((None, BLUE))  # a count that is neither good nor bad


@dataclass
class Panel:
    """One panel before layout: type, title, queries, unit and options."""

    kind: str
    title: str
    targets: list[dict[str, Any]]
    description: str = ""
    unit: str = "short"
    thresholds: dict[str, Any] | None = None
    mappings: list[dict[str, Any]] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = None
    stacked: bool = False
    bars: bool = False
    threshold_line: bool = False

    def to_json(self, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
        defaults: dict[str, Any] = {"unit": self.unit, "mappings": self.mappings,
                                    "thresholds": self.thresholds or thresholds((None, GREEN))}
        if self.minimum is not None:
            defaults["min"] = self.minimum
        if self.maximum is not None:
            defaults["max"] = self.maximum
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        options: dict[str, Any]
        if self.kind == "timeseries":
            defaults["color"] = {"mode": "palette-classic"}
            defaults["custom"] = {
                "drawStyle": "bars" if self.bars else "line",
                "lineWidth": 1, "fillOpacity": 60 if self.bars else 10,
                "showPoints": "never", "spanNulls": False,
                "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
                "thresholdsStyle": {"mode": "line+area" if self.threshold_line else "off"},
            }
            options = {"legend": {"displayMode": "list", "placement": "bottom",
                                  "showLegend": True},
                       "tooltip": {"mode": "multi", "sort": "desc"}}
        elif self.kind == "stat":
            defaults["color"] = {"mode": "thresholds"}
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                       "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                       "orientation": "auto", "textMode": "auto"}
        elif self.kind == "state-timeline":
            defaults["color"] = {"mode": "thresholds"}
            defaults["custom"] = {"fillOpacity": 80, "lineWidth": 0}
            options = {"mergeValues": True, "showValue": "auto", "alignValue": "left",
                       "rowHeight": 0.9,
                       "legend": {"displayMode": "list", "placement": "bottom",
                                  "showLegend": True},
                       "tooltip": {"mode": "single", "sort": "none"}}
        else:
            raise ValueError(f"unknown panel kind {self.kind!r}")
        return {
            "id": panel_id, "type": self.kind, "title": self.title,
            "description": self.description, "datasource": DS, "gridPos": grid,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options, "targets": self.targets,
        }


def timeseries(title: str, *targets_: dict[str, Any], **kw: Any) -> Panel:
    return Panel("timeseries", title, list(targets_), **kw)


def stat(title: str, *targets_: dict[str, Any], **kw: Any) -> Panel:
    return Panel("stat", title, list(targets_), **kw)


def timeline(title: str, *targets_: dict[str, Any], **kw: Any) -> Panel:
    return Panel("state-timeline", title, list(targets_), **kw)


def queries(*exprs: tuple[str, str]) -> list[dict[str, Any]]:
    """Several (expr, legend) targets with refIds A, B, C..."""
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(exprs)]


# -- dashboards -----------------------------------------------------------------------------------


def datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
            "includeAll": False, "multi": False, "options": [], "skipUrlSync": False}


def query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value label variable with All = `.*`."""
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": f"{name}-query"},
            "refresh": 2, "regex": "", "sort": 1, "multi": True, "includeAll": True,
            "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0, "options": [], "skipUrlSync": False}


def annotations() -> dict[str, Any]:
    return {"list": [
        {"builtIn": 1, "datasource": GRAFANA_DS, "enable": True, "hide": True,
         "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
         "type": "dashboard"},
        {"datasource": GRAFANA_DS, "enable": True, "hide": False, "iconColor": "red",
         "name": "Chaos faults",
         "target": {"limit": 200, "matchAny": True, "tags": [CHAOS_TAG], "type": "tags"}},
        {"datasource": DS, "enable": True, "hide": False, "iconColor": "orange",
         "name": "Firing alerts", "expr": 'ALERTS{alertstate="firing"}', "step": "15s",
         "titleFormat": "{{alertname}}", "textFormat": "{{alertname}} firing",
         "tagKeys": "alertname,severity", "useValueForTime": False},
    ]}


def dashboard(uid: str, title: str, description: str, rows: list[tuple[str, list[tuple[Panel,
              int, int]]]], variables: list[dict[str, Any]], tags: list[str]) -> dict[str, Any]:
    """Lay the rows out on Grafana's 24-column grid, number the panels, add the common parts."""
    panels: list[dict[str, Any]] = []
    y = 0
    next_id = 1
    for row_title, row_panels in rows:
        panels.append({"id": next_id, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel, width, height in row_panels:
            if x + width > 24:
                x, y, line_height = 0, y + line_height, 0
            panels.append(panel.to_json(next_id, {"h": height, "w": width, "x": x, "y": y}))
            next_id += 1
            x += width
            line_height = max(line_height, height)
        y += line_height
    return {
        "id": None, "uid": uid, "title": title, "description": description,
        "tags": [TAG, *tags], "timezone": "browser", "editable": True, "graphTooltip": 1,
        "refresh": "5s", "schemaVersion": SCHEMA_VERSION, "version": 1,
        "time": {"from": "now-15m", "to": "now"},
        "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
        "templating": {"list": [datasource_variable(), *variables]},
        "annotations": annotations(),
        "links": [{"title": "Shop dashboards", "type": "dashboards", "tags": [TAG],
                   "asDropdown": True, "includeVars": False, "keepTime": True}],
        "panels": panels,
    }


def _http(selector: str = "") -> str:
    base = f'service=~"$service", route=~"$route", {USER_ROUTES}'
    return f"{base}, {selector}" if selector else base


def golden_signals() -> dict[str, Any]:
    rate_all = f"rate(shop_http_requests_total{{{_http()}}}[$__rate_interval])"
    rate_5xx = f"rate(shop_http_requests_total{{{_http(STATUS_5XX)}}}[$__rate_interval])"
    rate_4xx = f"rate(shop_http_requests_total{{{_http(STATUS_4XX)}}}[$__rate_interval])"
    bucket = f"rate(shop_http_request_duration_seconds_bucket{{{_http()}}}[$__rate_interval])"
    replicas = 'job=~"$service", job=~"storefront|payments|reviews"'
    rows = [
        ("Overview (selected services and routes; /health and /metrics excluded)", [
            (stat("Requests/s", target(f"sum({rate_all})"), unit="reqps"), 6, 4),
            (stat("5xx ratio", target(f"sum({rate_5xx}) / sum({rate_all})"),
                  unit="percentunit", thresholds=RATIO_THRESHOLDS, decimals=2,
                  description="Share of answers that are 5xx; the StorefrontHigh5xxRatio "
                              "alert fires above 5 % for the storefront."), 6, 4),
            (stat("p99 latency", target(
                f"histogram_quantile(0.99, sum by (le) ({bucket}))"), unit="s",
                thresholds=LATENCY_THRESHOLDS), 6, 4),
            (stat("Replicas up", target(
                f"sum by (job) (up{{{replicas}}})", "{{job}}"),
                thresholds=thresholds((None, RED), (1, ORANGE), (2, GREEN)),
                description="Scrape targets answering, per service."), 6, 4),
        ]),
        ("Traffic", [
            (timeseries("Requests/s by service", target(
                f"sum by (service) ({rate_all})", "{{service}}"), unit="reqps"), 12, 8),
            (timeseries("Requests/s by route", target(
                f"sum by (service, method, route) ({rate_all})",
                "{{service}} {{method}} {{route}}"), unit="reqps"), 12, 8),
        ]),
        ("Errors", [
            (timeseries("5xx/s by route", target(
                f"sum by (service, route, status) ({rate_5xx})",
                "{{service}} {{route}} {{status}}"), unit="reqps", bars=True), 8, 8),
            (timeseries("5xx ratio by service", target(
                f"sum by (service) ({rate_5xx}) / sum by (service) ({rate_all})",
                "{{service}}"), unit="percentunit", thresholds=RATIO_THRESHOLDS,
                threshold_line=True, minimum=0), 8, 8),
            (timeseries("4xx/s by route (conflicts, rejects)", target(
                f"sum by (service, route, status) ({rate_4xx})",
                "{{service}} {{route}} {{status}}"), unit="reqps"), 8, 8),
        ]),
        ("Latency", [
            (timeseries("Latency by service", *queries(
                (f"histogram_quantile(0.5, sum by (service, le) ({bucket}))",
                 "{{service}} p50"),
                (f"histogram_quantile(0.95, sum by (service, le) ({bucket}))",
                 "{{service}} p95"),
                (f"histogram_quantile(0.99, sum by (service, le) ({bucket}))",
                 "{{service}} p99")), unit="s", thresholds=LATENCY_THRESHOLDS,
                threshold_line=True), 12, 8),
            (timeseries("p99 by route", target(
                f"histogram_quantile(0.99, sum by (service, route, le) ({bucket}))",
                "{{service}} {{route}}"), unit="s"), 12, 8),
        ]),
        ("Saturation", [
            (timeseries("CPU per replica (cores)", target(
                f"rate(process_cpu_seconds_total{{{replicas}}}[$__rate_interval])",
                "{{job}} {{instance}}"), unit="percentunit",
                description="CPU seconds per second of each replica process "
                            "(1 = one full core)."), 12, 7),
            (timeseries("Resident memory per replica", target(
                f"process_resident_memory_bytes{{{replicas}}}", "{{job}} {{instance}}"),
                unit="bytes"), 12, 7),
        ]),
        ("Dependencies", [
            (timeseries("Payments call latency (caller side)", target(
                "histogram_quantile(0.99, sum by (operation, le) "
                "(rate(shop_payment_duration_seconds_bucket[$__rate_interval])))",
                "p99 {{operation}}"), unit="s"), 8, 8),
            (timeseries("Cache hit ratio", target(
                'sum by (cache) (rate(shop_cache_requests_total{result="hit"}'
                '[$__rate_interval])) / sum by (cache) '
                '(rate(shop_cache_requests_total[$__rate_interval]))', "{{cache}}"),
                unit="percentunit", minimum=0, maximum=1), 8, 8),
            (timeseries("Cart OCC conflicts/s", target(
                "sum by (operation) (rate(shop_cart_occ_conflicts_total[$__rate_interval]))",
                "{{operation}}"), unit="ops", bars=True,
                description="Cart writes whose optimistic-concurrency condition failed "
                            "(each is retried)."), 8, 8),
        ]),
    ]
    return dashboard(
        "shop-golden-signals", "Shop: golden signals",
        "Traffic, errors, latency and saturation of the shop's services, per service and "
        "route (RED metrics of every replica).", rows,
        [query_variable("service", "Service",
                        "label_values(shop_http_requests_total, service)"),
         query_variable("route", "Route",
                        'label_values(shop_http_requests_total{service=~"$service"}, route)')],
        ["golden-signals"])


def _breaker_state(by: str) -> str:
    sel = 'dependency=~"$dependency"'
    return (f'max by ({by}) (shop_circuit_breaker_state{{{sel}, state="open"}}) * 2 + '
            f'max by ({by}) (shop_circuit_breaker_state{{{sel}, state="half_open"}})')


def _alert_state(alert_selector: str, by: str) -> str:
    """2 while firing, 1 while pending (an alert is one or the other)."""
    return (f'max by ({by}) (ALERTS{{{alert_selector}, alertstate="firing"}}) * 2 or '
            f'max by ({by}) (ALERTS{{{alert_selector}, alertstate="pending"}})')


def circuit_breakers() -> dict[str, Any]:
    sel = 'dependency=~"$dependency"'
    rows = [
        ("State", [
            (timeline("Breaker state (worst replica)", target(
                _breaker_state("dependency"), "{{dependency}}"), mappings=BREAKER_MAPPINGS,
                thresholds=BREAKER_THRESHOLDS,
                description="Shared state in Redis, as each storefront replica reads it at "
                            "scrape time."), 16, 6),
            (stat("Replicas seeing the breaker open", target(
                f'sum by (dependency) (shop_circuit_breaker_state{{{sel}, state="open"}})',
                "{{dependency}}"), thresholds=RED_FROM_1), 8, 6),
            (timeline("Breaker state per replica", target(
                _breaker_state("dependency, instance"), "{{dependency}} {{instance}}"),
                mappings=BREAKER_MAPPINGS,
                thresholds=BREAKER_THRESHOLDS), 24, 7),
        ]),
        ("Transitions and rejected calls", [
            (timeseries("Transitions", target(
                f"sum by (dependency, from_state, to_state) (increase("
                f"shop_circuit_breaker_transitions_total{{{sel}}}[$__rate_interval]))",
                "{{dependency}}: {{from_state}} → {{to_state}}"), bars=True,
                description="Counted once per replica that makes or observes the change."),
             8, 8),
            (timeseries("Rejected calls/s (short-circuited)", target(
                f"sum by (dependency) (rate(shop_circuit_breaker_rejected_total{{{sel}}}"
                f"[$__rate_interval]))", "{{dependency}}"), unit="ops",
                thresholds=RED_ABOVE_0), 8, 8),
            (timeseries("Storefront 503s/s (shed, with Retry-After)", target(
                'sum by (route) (rate(shop_http_requests_total{service="storefront", '
                'status="503"}[$__rate_interval]))', "{{route}}"), unit="reqps",
                bars=True), 8, 8),
        ]),
        ("The dependency itself", [
            (timeseries("Dependency answers by status", target(
                f'sum by (service, status) (rate(shop_http_requests_total{{'
                f'service=~"$dependency", {USER_ROUTES}}}[$__rate_interval]))',
                "{{service}} {{status}}"), unit="reqps", stacked=True), 12, 8),
            (timeseries("Payments calls/s by operation (calls let through)", target(
                "sum by (operation) (rate(shop_payment_duration_seconds_count"
                "[$__rate_interval]))", "{{operation}}"), unit="ops"), 12, 8),
        ]),
        ("Alarms and alerts", [
            (timeline("Breaker-open alarms (CloudWatch, local evaluator)", target(
                'max by (alarm) (cloudwatch_alarm_state{alarm=~".*breaker-open-.*", '
                'state="ALARM"})', "{{alarm}}"), mappings=ALARM_MAPPINGS,
                thresholds=RED_FROM_1), 12, 6),
            (timeline("CircuitBreakerOpen alert (Prometheus)", target(
                _alert_state('alertname="CircuitBreakerOpen"', "dependency"),
                "{{dependency}}"), mappings=ALERT_MAPPINGS,
                thresholds=ALERT_THRESHOLDS), 12, 6),
        ]),
    ]
    return dashboard(
        "shop-circuit-breakers", "Shop: circuit breakers",
        "The storefront's breakers to payments and reviews: state over time, transitions, "
        "calls rejected while open, what the dependency answers, and the alarms.", rows,
        [query_variable("dependency", "Dependency",
                        "label_values(shop_circuit_breaker_state, dependency)")],
        ["breakers"])


def streams() -> dict[str, Any]:
    sel = 'function=~"$function"'
    rows = [
        ("Backlog", [
            (timeseries("IteratorAge per consumer", target(
                f"max by (function) (stream_runtime_iterator_age_seconds{{{sel}}})",
                "{{function}}"), unit="s", thresholds=AGE_THRESHOLDS, threshold_line=True,
                minimum=0,
                description="Age of the oldest record read but not finished, computed at "
                            "every scrape; the jam alert fires above 3 s for 10 s."), 16, 8),
            (stat("Max IteratorAge now", target(
                f"max(stream_runtime_iterator_age_seconds{{{sel}}})"), unit="s",
                thresholds=AGE_THRESHOLDS), 8, 8),
        ]),
        ("Invocations", [
            (timeseries("Invocations/s", target(
                f"sum by (function) (rate(stream_runtime_invocations_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}}"), unit="ops"), 8, 7),
            (timeseries("Errors/s", target(
                f"sum by (function) (rate(stream_runtime_errors_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}}"), unit="ops",
                thresholds=RED_ABOVE_0), 8, 7),
            (timeseries("Throttles/s", target(
                f"sum by (function) (rate(stream_runtime_throttles_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}}"), unit="ops",
                thresholds=RED_ABOVE_0), 8, 7),
            (timeseries("Handler duration p99", target(
                f"histogram_quantile(0.99, sum by (function, le) (rate("
                f"stream_runtime_duration_seconds_bucket{{{sel}}}[$__rate_interval])))",
                "{{function}}"), unit="s"), 8, 7),
            (timeseries("Records/s by outcome (runtime)", target(
                f"sum by (function, outcome) (rate(stream_runtime_records_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}} {{outcome}}"), unit="ops"), 8, 7),
            (timeseries("Records/s by outcome (handlers)", target(
                f"sum by (function, outcome) (rate(shop_stream_records_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}} {{outcome}}"), unit="ops"), 8, 7),
        ]),
        ("OnFailure", [
            (timeseries("Records sent to OnFailure or discarded", target(
                f'sum by (function, outcome) (increase(stream_runtime_records_total{{{sel}, '
                f'outcome=~"on_failure|discarded"}}[$__rate_interval]))',
                "{{function}} {{outcome}}"), bars=True,
                thresholds=RED_FROM_1,
                description="Batches whose retries ran out leave the stream for the OnFailure "
                            "queue, where the transaction manager cancels their orders."),
             12, 7),
            (stat("Records sent to OnFailure (time range)", target(
                f'sum(increase(stream_runtime_records_total{{{sel}, outcome="on_failure"}}'
                f'[$__range]))'), thresholds=RED_FROM_1,
                decimals=0), 6, 7),
            (stat("OnFailure queue alarm", target(
                'max(cloudwatch_alarm_state{alarm=~".*stream-on-failure-not-empty", '
                'state="ALARM"})'), mappings=ALARM_MAPPINGS,
                thresholds=RED_FROM_1), 6, 7),
        ]),
        ("Consumers alive (heartbeats)", [
            (timeseries("Heartbeats acknowledged/s", target(
                f"sum by (function) (rate(shop_stream_heartbeats_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}}"), unit="ops", minimum=0,
                description="Heartbeat records each consumer acknowledged: about one a second "
                            "while it consumes. The silent-consumer alarm and alert fire when "
                            "they stop (the runtime down, a mapping disabled, failing batches)."),
             12, 7),
            (timeline("Silent-consumer alarms (CloudWatch, local evaluator)", target(
                'max by (alarm) (cloudwatch_alarm_state{alarm=~".*-consumer-silent", '
                'state="ALARM"})', "{{alarm}}"), mappings=ALARM_MAPPINGS,
                thresholds=RED_FROM_1), 12, 7),
        ]),
        ("Event source mappings (MetricsConfig EventCount)", [
            (timeseries("Polled events/s", target(
                f"sum by (function) (rate(stream_runtime_esm_polled_events_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}}"), unit="ops", minimum=0,
                description="PolledEventCount: records GetRecords returned (Lambda also emits "
                            "a 0 for an empty poll; the polls are counted below)."), 8, 7),
            (timeseries("Polls/s (empty ones too)", target(
                f"sum by (function) (rate(stream_runtime_esm_polls_total{{{sel}}}"
                f"[$__rate_interval]))", "{{function}}"), unit="ops", minimum=0,
                description="Every GetRecords of an enabled mapping: 4 a second per shard when "
                            "idle. None from a disabled mapping or a dead runtime."), 8, 7),
            (timeseries("Invoked and failed-invoke events/s", *queries(
                (f"sum by (function) (rate(stream_runtime_esm_invoked_events_total{{{sel}}}"
                 f"[$__rate_interval]))", "{{function}} invoked"),
                (f"sum by (function) (rate(stream_runtime_esm_failed_invoke_events_total"
                 f"{{{sel}}}[$__rate_interval]))", "{{function}} failed")), unit="ops",
                minimum=0, description="InvokedEventCount counts retries and throttled "
                                       "attempts again; FailedInvokeEventCount the records of "
                                       "failed or throttled attempts."), 8, 7),
            (timeseries("Dropped and delivered to OnFailure (events)", *queries(
                (f"sum by (function) (increase(stream_runtime_esm_dropped_events_total"
                 f"{{{sel}}}[$__rate_interval]))", "{{function}} dropped"),
                (f"sum by (function) (increase("
                 f"stream_runtime_esm_on_failure_delivered_events_total{{{sel}}}"
                 f"[$__rate_interval]))", "{{function}} to OnFailure")), bars=True,
                thresholds=RED_FROM_1,
                description="DroppedEventCount (record age or retries exhausted, no "
                            "destination: lost) and OnFailureDestinationDeliveredEventCount."),
             24, 7),
        ]),
        ("Stuck correlation ID (seed 004)", [
            (timeseries("Failures per correlation ID, last minute (top 3)", target(
                'contributor_insights_contributor_value{rule=~".*stream-failures-by-'
                'correlation-id"}', "{{contributor}}"), bars=True, decimals=0,
                threshold_line=True, thresholds=thresholds((None, GREEN), (5, RED)),
                description="The Contributor Insights rule over the consumers' JSON failure "
                            "lines, per correlation ID: one ID failing again and again is a "
                            "record retried while it holds its shard."), 16, 8),
            (stat("Stuck-correlation-ID alarm", target(
                'max(cloudwatch_alarm_state{alarm=~".*stream-stuck-correlation-id", '
                'state="ALARM"})'), mappings=ALARM_MAPPINGS, thresholds=RED_FROM_1), 8, 8),
        ]),
        ("Jam alarm and alerts", [
            (timeline("Jam alarms (CloudWatch, local evaluator)", target(
                'max by (alarm) (cloudwatch_alarm_state{alarm=~".*-stream-jam(-errors)?", '
                'state="ALARM"})', "{{alarm}}"), mappings=ALARM_MAPPINGS,
                thresholds=RED_FROM_1), 12, 9),
            (timeline("Stream alerts (Prometheus)", target(
                _alert_state(f'alertname=~"Stream.*", {sel}', "alertname, function"),
                "{{alertname}} {{function}}"), mappings=ALERT_MAPPINGS,
                thresholds=ALERT_THRESHOLDS), 12, 9),
        ]),
    ]
    return dashboard(
        "shop-streams", "Shop: streams",
        "The Lambda-style stream consumers: IteratorAge, invocations, errors, throttles, "
        "records sent to OnFailure, heartbeats and the silent-consumer alarms, the event "
        "source mappings' EventCount metrics, the stuck correlation ID, and the jam alarm "
        "and alerts.", rows,
        [query_variable("function", "Function",
                        "label_values(stream_runtime_invocations_total, function)")],
        ["streams"])


def saga() -> dict[str, Any]:
    rows = [
        ("Orders (time range)", [
            (stat("Placed", target(
                'sum(increase(shop_orders_total{status="placed"}[$__range]))'),
                thresholds=COUNT_THRESHOLDS, decimals=0), 4, 4),
            (stat("Completed", target(
                'sum(increase(shop_orders_total{status="completed"}[$__range]))'),
                thresholds=thresholds((None, GREEN)), decimals=0), 4, 4),
            (stat("Cancelled", target(
                'sum(increase(shop_orders_total{status="cancelled"}[$__range]))'),
                thresholds=ORANGE_FROM_1, decimals=0), 4, 4),
            (stat("In flight now", target("max(shop_saga_orders_in_flight)"),
                  thresholds=COUNT_THRESHOLDS, decimals=0,
                  description=" + ".join(IN_FLIGHT_STATUSES) + ", from a scan of the orders "
                              "table "
                              "(local_stack/saga_exporter.py)."), 4, 4),
            (stat("Oldest order in flight", target(
                "max(shop_saga_oldest_in_flight_age_seconds)"), unit="s",
                thresholds=thresholds((None, GREEN), (30, ORANGE), (60, RED)),
                description="`gameday audit` calls an order stuck after 60 s."), 4, 4),
            (stat("Products out of stock", target("max(shop_stock_products_out_of_stock)"),
                  thresholds=ORANGE_FROM_1, decimals=0), 4, 4),
        ]),
        ("Lifecycle", [
            (timeseries("Order events/s", target(
                "sum by (status) (rate(shop_orders_total[$__rate_interval]))", "{{status}}"),
                unit="ops",
                description="placed: checkout accepted; completed / cancelled: the saga's "
                            "last step."), 12, 8),
            (timeseries("Orders in flight by status", target(
                f'max by (status) (shop_saga_orders{{status=~"{"|".join(IN_FLIGHT_STATUSES)}"}})',
                "{{status}}"), stacked=True, decimals=0), 12, 8),
            (timeseries("Orders completed and cancelled (stored)", target(
                'max by (status) (shop_saga_orders{status=~"COMPLETED|CANCELLED"})',
                "{{status}}"), decimals=0), 8, 8),
            (timeseries("Cancelled orders by reason", target(
                "max by (reason) (shop_saga_orders_cancelled)", "{{reason}}"),
                decimals=0), 8, 8),
            (timeseries("Checkout answers/s", target(
                'sum by (status) (rate(shop_http_requests_total{service="storefront", '
                'route=~".*/checkout"}[$__rate_interval]))', "{{status}}"),
                unit="reqps", stacked=True), 8, 8),
        ]),
        ("Stock", [
            (timeseries("Stock on hand and initial", target(
                'max by (state) (shop_stock_units{state=~"on_hand|initial"})', "{{state}}"),
                decimals=0), 8, 8),
            (timeseries("Stock reserved, sold, awaiting release", target(
                'max by (state) (shop_stock_units{state=~"reserved|sold|awaiting_release"})',
                "{{state}}"), decimals=0), 8, 8),
            (stat("Stock conservation gap", target(
                'sum(shop_stock_units{state="initial"}) - sum(shop_stock_units{'
                'state=~"on_hand|reserved|sold|awaiting_release"})'),
                thresholds=thresholds((None, RED), (-0.5, GREEN), (0.5, RED)), decimals=0,
                description="initial − (on hand + reserved + sold + awaiting release): 0 while "
                            "stock is conserved (the scan is not a snapshot: a moment's gap "
                            "under load is possible; `gameday audit` is the check)."), 8, 8),
        ]),
        ("Payments and Second Look", [
            (timeseries("Payment calls p95 by operation", target(
                "histogram_quantile(0.95, sum by (operation, le) "
                "(rate(shop_payment_duration_seconds_bucket[$__rate_interval])))",
                "{{operation}}"), unit="s"), 12, 7),
            (timeseries("Second Look evaluations/s", target(
                "sum(rate(shop_second_look_evaluated_total[$__rate_interval]))",
                "evaluated"), unit="ops"), 12, 7),
        ]),
    ]
    return dashboard(
        "shop-saga", "Shop: checkout saga",
        "Orders placed, completed and cancelled; orders in flight and the oldest one; stock "
        "on hand, reserved and sold.", rows, [], ["saga"])


def load() -> dict[str, Any]:
    sel = 'name=~"$name", name!="Aggregated"'
    agg = 'name="Aggregated"'
    bucket = f"rate(locust_response_time_seconds_bucket{{{sel}}}[$__rate_interval])"
    rows = [
        ("Now", [
            (stat("Users", target("sum(locust_users)"), thresholds=COUNT_THRESHOLDS,
                  decimals=0), 4, 4),
            (stat("Workers", target("sum(locust_workers)"),
                  thresholds=COUNT_THRESHOLDS, decimals=0,
                  description="Connected workers (1 for a single local runner)."), 4, 4),
            (stat("Requests/s", target(
                f"sum(rate(locust_requests_total{{{agg}}}[$__rate_interval]))"),
                unit="reqps"), 4, 4),
            (stat("Failure ratio", target(
                f"sum(rate(locust_failures_total{{{agg}}}[$__rate_interval])) / "
                f"sum(rate(locust_requests_total{{{agg}}}[$__rate_interval]))"),
                unit="percentunit", decimals=2,
                thresholds=RATIO_THRESHOLDS), 4, 4),
            (stat("p95 since start", target(
                f'max(locust_response_time_percentile_seconds{{{agg}, quantile="0.95"}})'),
                unit="s", thresholds=LATENCY_THRESHOLDS), 4, 4),
            (stat("p99 since start", target(
                f'max(locust_response_time_percentile_seconds{{{agg}, quantile="0.99"}})'),
                unit="s", thresholds=LATENCY_THRESHOLDS), 4, 4),
        ]),
        ("Throughput", [
            (timeseries("Users", target("sum(locust_users)", "users"), decimals=0), 8, 8),
            (timeseries("Requests/s by request", target(
                f"sum by (method, name) (rate(locust_requests_total{{{sel}}}"
                f"[$__rate_interval]))", "{{method}} {{name}}"), unit="reqps",
                stacked=True), 16, 8),
            (timeseries("Failures/s by request", target(
                f"sum by (method, name) (rate(locust_failures_total{{{sel}}}"
                f"[$__rate_interval]))", "{{method}} {{name}}"), unit="reqps",
                thresholds=RED_ABOVE_0), 12, 8),
            (timeseries("Failures by error (time range)", target(
                "sum by (name, error) (increase(locust_errors_total[$__range]))",
                "{{name}}: {{error}}"), decimals=0), 12, 8),
        ]),
        ("Response times", [
            (timeseries("Percentiles over the last minutes (all requests)", *queries(
                (f"histogram_quantile(0.5, sum by (le) ({bucket}))", "p50"),
                (f"histogram_quantile(0.95, sum by (le) ({bucket}))", "p95"),
                (f"histogram_quantile(0.99, sum by (le) ({bucket}))", "p99")),
                unit="s", thresholds=LATENCY_THRESHOLDS, threshold_line=True), 12, 8),
            (timeseries("p95 by request", target(
                f"histogram_quantile(0.95, sum by (method, name, le) ({bucket}))",
                "{{method}} {{name}}"), unit="s"), 12, 8),
            (timeseries("Percentiles since the run started (Locust)", target(
                f"max by (quantile) (locust_response_time_percentile_seconds{{{agg}}})",
                "p{{quantile}}"), unit="s"), 12, 8),
            (timeseries("Game day counters/s (conflicts, shed, orders)", target(
                "sum by (counter) (rate(locust_gameday_events_total[$__rate_interval]))",
                "{{counter}}"), unit="ops"), 12, 8),
        ]),
    ]
    return dashboard(
        "shop-load", "Shop: load (Locust)",
        "The load generator: users, requests/s, failures and response-time percentiles, "
        "from loadtests/prometheus_exporter.py.", rows,
        [query_variable("name", "Request", "label_values(locust_requests_total, name)")],
        ["load"])


def overview() -> dict[str, Any]:
    sf = f'service="storefront", {USER_ROUTES}'
    rows = [
        ("Game day", [
            (stat("Storefront requests/s", target(
                f"sum(rate(shop_http_requests_total{{{sf}}}[$__rate_interval]))"),
                unit="reqps"), 4, 4),
            (stat("Storefront 5xx ratio", target(
                f'sum(rate(shop_http_requests_total{{{sf}, status=~"5.."}}[$__rate_interval]))'
                f" / sum(rate(shop_http_requests_total{{{sf}}}[$__rate_interval]))"),
                unit="percentunit", decimals=2,
                thresholds=RATIO_THRESHOLDS), 4, 4),
            (stat("Breakers open (replicas)", target(
                'sum(shop_circuit_breaker_state{state="open"})'),
                thresholds=RED_FROM_1, decimals=0), 4, 4),
            (stat("Max IteratorAge", target("max(stream_runtime_iterator_age_seconds)"),
                  unit="s", thresholds=AGE_THRESHOLDS), 4, 4),
            (stat("Orders in flight", target("max(shop_saga_orders_in_flight)"),
                  decimals=0, thresholds=COUNT_THRESHOLDS), 4, 4),
            (stat("Load users", target("sum(locust_users)"), decimals=0,
                  thresholds=COUNT_THRESHOLDS), 4, 4),
        ]),
        ("Alarms and alerts", [
            (timeline("CloudWatch alarms (local evaluator)", target(
                'max by (alarm) (cloudwatch_alarm_state{state="ALARM"})', "{{alarm}}"),
                mappings=ALARM_MAPPINGS, thresholds=RED_FROM_1),
             12, 12),
            (timeline("Prometheus alerts", target(
                _alert_state('alertname!=""', "alertname"), "{{alertname}}"),
                mappings=ALERT_MAPPINGS, thresholds=ALERT_THRESHOLDS),
             12, 12),
            (timeseries("Scrape targets up by job", target("sum by (job) (up)", "{{job}}"),
                        decimals=0), 24, 6),
        ]),
    ]
    return dashboard(
        "shop-game-day", "Shop: game day overview",
        "One screen for a game day: the storefront's traffic and errors, breakers, stream "
        "backlog, orders in flight, load, and every alarm and alert; chaos faults as "
        "annotations.", rows, [], ["overview"])


def build_all() -> dict[str, dict[str, Any]]:
    """Every dashboard by UID."""
    boards = [overview(), golden_signals(), circuit_breakers(), streams(), saga(), load()]
    return {board["uid"]: board for board in boards}


def render(board: dict[str, Any]) -> str:
    """The JSON text written to disk (stable: sorted keys, two-space indent)."""
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(directory: Path = GRAFANA_DIR) -> list[Path]:
    """Write every dashboard to `<directory>/<uid>.json`; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for uid, board in build_all().items():
        path = directory / f"{uid}.json"
        path.write_text(render(board))
        paths.append(path)
    return paths


def stale_files(directory: Path = GRAFANA_DIR) -> list[str]:
    """Dashboards whose file is missing or differs from what this module builds."""
    stale = []
    for uid, board in build_all().items():
        path = directory / f"{uid}.json"
        if not path.exists() or path.read_text() != render(board):
            stale.append(path.name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.grafana_build",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a dashboard file is missing or out of date")
    parser.add_argument("--dir", type=Path, default=GRAFANA_DIR)
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        if stale:
            print(f"out of date: {', '.join(stale)} (run python -m dashboards.grafana_build)",
                  file=sys.stderr)
            return 1
        print(f"{len(build_all())} dashboards up to date")
        return 0
    for path in write_all(args.dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
