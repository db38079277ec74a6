"""Every probe an experiment can name, with the parameters it takes.

A probe reads; it never changes the shop. Signature: fn(env, params) -> value; the step's
tolerance (chaos/verdicts.py) judges the value.

Probes dispatch by target (chaos/targets/): where a target reads a probe differently (on aws,
`replicas-alive` is the ECS service's running tasks, `iterator-age` and `stream` come from
AWS/Lambda metrics) its override answers; a probe a target cannot answer (a local process's
/metrics on aws) raises UnknownName naming the target. The aws-only probes (`ecs-running`,
`alb-healthy`, `cloudwatch-metric`, `sqs-depth`, `orders-table`) refuse other targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaos.durations import parse_duration
from chaos.exceptions import UnknownName
from chaos.load import locust_stats
from chaos.load.records import PlacedOrder, in_window, rate
from chaos.probes import (
    alarms,
    audit,
    breakers,
    orders,
    processes,
    prometheus,
    queues,
    stream,
)
from chaos.probes import http as http_probe
from chaos.probes.env import ProbeEnv
from chaos.registry import Registry


class ProbeUnavailable(UnknownName):
    """The probe has no reading on this target."""


@dataclass(frozen=True)
class ProbeType:
    name: str
    fn: Callable[[ProbeEnv, dict[str, Any]], Any]
    required: frozenset[str]
    optional: frozenset[str]
    summary: str


def _http(env: ProbeEnv, p: dict[str, Any]) -> int:
    return http_probe.status_of(env.ctx, p.get("url", "storefront"), p.get("path", "/health"),
                                p.get("method", "GET"), p.get("token"))


def _breaker(env: ProbeEnv, p: dict[str, Any]) -> str | None:
    return breakers.breaker_state(env.ctx, p["dependency"])


def _alarm(env: ProbeEnv, p: dict[str, Any]) -> str | None:
    return alarms.alarm_state(env.ctx, p["alarm"], fresh_since=env.first_fault_start())


def _alarm_contributor(env: ProbeEnv, p: dict[str, Any]) -> dict[str, Any]:
    return alarms.top_contributor(env.ctx, p["alarm"], fresh_since=env.first_fault_start())


def _iterator_age(env: ProbeEnv, p: dict[str, Any]) -> float | None:
    return stream.iterator_age(env.ctx, p["function"])


def _stream(env: ProbeEnv, p: dict[str, Any]) -> dict[str, Any]:
    return stream.stream_metrics(env.ctx, p["function"])


def _stream_delta(env: ProbeEnv, p: dict[str, Any]) -> dict[str, Any]:
    """How the function's stream numbers changed since a `stream` probe saved earlier."""
    now = stream.stream_metrics(env.ctx, p["function"])
    since = p.get("since") or {}
    return {k: (v - (since.get(k) or 0.0)) if isinstance(v, int | float) and k != "iterator_age_s"
            else v for k, v in now.items()}


def _metric(env: ProbeEnv, p: dict[str, Any]) -> float | None:
    if "service" in p:
        urls = env.ctx.replica_metrics_urls(p["service"])
    elif "://" in p["url"]:
        urls = [env.ctx.url(p["url"])]
    else:  # a state-file URL key: its /metrics (or `path`)
        urls = [env.ctx.url(p["url"]) + p.get("path", "/metrics")]
    samples = [s for url in urls for s in prometheus.scrape(url)]
    if p.get("agg", "sum") == "max":
        return prometheus.maximum(samples, p["name"], p.get("labels"))
    return prometheus.total(samples, p["name"], p.get("labels"))


def _replicas_alive(env: ProbeEnv, p: dict[str, Any]) -> int:
    return processes.replicas_alive(env.ctx, p["service"])


def _events(env: ProbeEnv, p: dict[str, Any]) -> int:
    since = env.first_fault_start() if p.get("since", "fault") == "fault" else env.started_at
    kinds = tuple([p["kind"]]) if isinstance(p.get("kind"), str) else tuple(p.get("kind", ()))
    return len(processes.events(env.ctx, since, kinds, p.get("process")))


def _load_rate(env: ProbeEnv, p: dict[str, Any]) -> float | None:
    recorder = getattr(env.load, "recorder", None)
    if recorder is None:
        return None
    window = parse_duration(p.get("window", "10s"))
    now = time.time()
    records = in_window(recorder.snapshot(), now - window, now, p.get("name"))
    if len(records) < int(p.get("min_requests", 1)):
        return None
    return rate(records, p.get("status", "error"))


def _locust(env: ProbeEnv, p: dict[str, Any]) -> dict[str, Any]:
    if "csv" in p:
        return locust_stats.from_csv(p["csv"])
    return locust_stats.from_web(p["url"])


def _audit(env: ProbeEnv, p: dict[str, Any]) -> dict[str, Any]:
    timeout = parse_duration(p.get("timeout", "60s"))
    return audit.run_audit(env.ctx, p.get("args"), timeout, p.get("baseline"))


def _order_status(env: ProbeEnv, p: dict[str, Any]) -> str | None:
    order = PlacedOrder(str(p["order_id"]), "", str(p["token"]), 0.0)
    return orders.order_status(env.ctx.url("storefront"), order)


def _onfailure(env: ProbeEnv, p: dict[str, Any]) -> dict[str, Any]:
    return queues.onfailure_report(env.ctx, p["function"], p.get("field"), p.get("equals"))


def _orders_settled(env: ProbeEnv, p: dict[str, Any]) -> dict[str, int]:
    placed = env.load.placed() if env.load is not None else []
    return orders.settle(env.ctx.url("storefront"), placed, 0.0)


def _aws_only(fn: Callable[[ProbeEnv, dict[str, Any]], Any]
              ) -> Callable[[ProbeEnv, dict[str, Any]], Any]:
    def probe(env: ProbeEnv, p: dict[str, Any]) -> Any:
        if env.ctx.target != "aws":
            raise ProbeUnavailable(f"this probe reads the aws target, not {env.ctx.target}")
        return fn(env, p)
    return probe


@_aws_only
def _ecs_running(env: ProbeEnv, p: dict[str, Any]) -> dict[str, int]:
    from chaos.probes.aws import ecs
    return ecs.service_counts(env.ctx, p["service"])


@_aws_only
def _alb_healthy(env: ProbeEnv, p: dict[str, Any]) -> dict[str, Any]:
    from chaos.probes.aws import alb
    return alb.target_health(env.ctx, p["service"])


@_aws_only
def _cloudwatch_metric(env: ProbeEnv, p: dict[str, Any]) -> float | None:
    from chaos.probes.aws import cloudwatch
    return cloudwatch.latest(env.ctx, p["namespace"], p["name"], p.get("dimensions"),
                             p.get("stat", "Maximum"), int(p.get("period", 60)),
                             parse_duration(p.get("window", "5m")))


@_aws_only
def _sqs_depth(env: ProbeEnv, p: dict[str, Any]) -> dict[str, int]:
    from chaos.probes.aws import sqs
    return sqs.depth(env.ctx, p.get("queue", "on_failure"))


@_aws_only
def _orders_table(env: ProbeEnv, p: dict[str, Any]) -> dict[str, int]:
    from chaos.probes.aws import dynamodb
    return dynamodb.orders_by_status(env.ctx)


def _by_target(name: str, fn: Callable[[ProbeEnv, dict[str, Any]], Any]
               ) -> Callable[[ProbeEnv, dict[str, Any]], Any]:
    """`fn`, or the override of the context's target for probe `name` (chaos/targets/)."""
    def probe(env: ProbeEnv, p: dict[str, Any]) -> Any:
        from chaos.targets import target_of

        target = target_of(env.ctx)
        overrides = target.probe_overrides()
        if name in overrides:
            return overrides[name](env, p)
        if target.name == "aws" and name not in available_on_aws():
            raise ProbeUnavailable(f"probe {name!r} has no reading on the aws target "
                                   f"(it reads the local stack)")
        return fn(env, p)
    probe.__doc__ = fn.__doc__
    return probe


def available_on_aws() -> dict[str, list[str]]:
    """Probe name -> the API calls it makes on aws (chaos/probes/aws)."""
    from chaos.probes.aws import PROBE_CALLS

    return PROBE_CALLS


def _p(*names: str) -> frozenset[str]:
    return frozenset(names)


PROBES: Registry[ProbeType] = Registry("probe")
for _probe in [
    ProbeType("http", _http, _p(), _p("url", "path", "method", "token"),
              "HTTP status of one request (0 = no answer)"),
    ProbeType("breaker", _breaker, _p("dependency"), _p(),
              "breaker state: closed | open | half_open (admin endpoint, else metrics)"),
    ProbeType("alarm", _alarm, _p("alarm"), _p(),
              "CloudWatch alarm state (None: no alarm); once a fault started, an ALARM caused "
              "only by data from before it reads as \"ALARM (on data from before the fault)\""),
    ProbeType("alarm-contributor", _alarm_contributor, _p("alarm"), _p(),
              "who a Contributor Insights alarm in ALARM is about: {state, contributor, value, "
              "alarm_at, after_fault_s} (GetInsightRuleReport, else the local evaluator's "
              "topContributors)"),
    ProbeType("iterator-age", _iterator_age, _p("function"), _p(),
              "stream runtime IteratorAge of a function, seconds (max over shards)"),
    ProbeType("stream", _stream, _p("function"), _p(),
              "stream runtime numbers of a function: iterator_age_s, errors, throttles, records"),
    ProbeType("stream-delta", _stream_delta, _p("function", "since"), _p(),
              "change in a function's stream numbers since a saved `stream` probe output "
              "(e.g. records_on_failure)"),
    ProbeType("metric", _metric, _p("name"), _p("url", "path", "service", "labels", "agg"),
              "a Prometheus sample (sum or max) from a URL or every replica of a service"),
    ProbeType("replicas-alive", _replicas_alive, _p("service"), _p(),
              "replicas of a service with a live pid"),
    ProbeType("supervisor-events", _events, _p("kind"), _p("process", "since"),
              "how many supervisor events of a kind since the first fault (or the run); on "
              "aws `died`/`replaced` from ECS tasks"),
    ProbeType("load-rate", _load_rate, _p(), _p("window", "status", "name", "min_requests"),
              "fraction of the built-in load's recent requests with a status (e.g. 5xx)"),
    ProbeType("locust", _locust, _p(), _p("url", "csv"), "Locust aggregated statistics"),
    ProbeType("audit", _audit, _p(), _p("args", "timeout", "baseline"),
              "the shop's audit as a process (python -m reference_app.audit --json; on aws "
              "the same audit of the stack's tables); with `baseline` (an earlier audit's "
              "output) `clean` judges only what appeared since"),
    ProbeType("order-status", _order_status, _p("order_id", "token"), _p(),
              "an order's status over HTTP with its owner's token"),
    ProbeType("onfailure", _onfailure, _p("function"), _p("field", "equals"),
              "OnFailure queue of a function's stream mapping: messages, matched, isolated"),
    ProbeType("orders", _orders_settled, _p(), _p(),
              "statuses of the orders the load placed (one poll)"),
    ProbeType("ecs-running", _ecs_running, _p("service"), _p(),
              "aws: {running, desired, pending} tasks of a shop service's ECS service"),
    ProbeType("alb-healthy", _alb_healthy, _p("service"), _p(),
              "aws: {healthy, total, states} of the service's ALB target group"),
    ProbeType("cloudwatch-metric", _cloudwatch_metric, _p("namespace", "name"),
              _p("dimensions", "stat", "period", "window"),
              "aws: the newest datapoint of a CloudWatch metric (GetMetricData)"),
    ProbeType("sqs-depth", _sqs_depth, _p(), _p("queue"),
              "aws: {visible, in_flight} messages of the stack's queue (on_failure, "
              "second_look)"),
    ProbeType("orders-table", _orders_table, _p(), _p(),
              "aws: orders in the stack's orders table by status"),
]:
    PROBES.register(_probe.name, ProbeType(_probe.name, _by_target(_probe.name, _probe.fn),
                                           _probe.required, _probe.optional, _probe.summary))
