"""CloudWatch metrics as AWS publishes them (GetMetricData): the newest datapoint of one metric,
and the Lambda stream numbers the local stream runtime reports, read from AWS/Lambda.

AWS/Lambda metrics are 1-minute: the default period is 60 s and the window 5 minutes, so a
value lags the shop by 1-2 minutes (docs/aws.md, "What differs from local")."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from chaos.context import ChaosContext

LAMBDA = "AWS/Lambda"


def latest(ctx: ChaosContext, namespace: str, name: str, dimensions: dict[str, str] | None,
           stat: str = "Maximum", period_s: int = 60, window_s: float = 300.0) -> float | None:
    """The newest datapoint of the metric in the last `window_s`, None when there is none."""
    now = time.time()
    query = {"Id": "m", "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": name,
                   "Dimensions": [{"Name": k, "Value": v}
                                  for k, v in (dimensions or {}).items()]},
        "Period": int(period_s), "Stat": stat}}
    resp = ctx.client("cloudwatch").get_metric_data(
        MetricDataQueries=[query], StartTime=datetime.fromtimestamp(now - window_s, tz=UTC),
        # the end one period ahead: the current, still filling period is the newest value
        EndTime=datetime.fromtimestamp(now + period_s, tz=UTC), ScanBy="TimestampDescending")
    for result in resp.get("MetricDataResults", []):
        if result.get("Values"):
            return float(result["Values"][0])
    return None


def iterator_age_s(ctx: ChaosContext, function: str) -> float | None:
    """IteratorAge of a function's stream, seconds (AWS publishes milliseconds)."""
    value = latest(ctx, LAMBDA, "IteratorAge", {"FunctionName": function})
    return None if value is None else value / 1000.0


def stream_numbers(ctx: ChaosContext, function: str) -> dict[str, Any]:
    """The `stream` probe's keys from AWS/Lambda: iterator_age_s, errors, throttles, records
    (Invocations; AWS has no per-record count outside ESM metrics)."""
    dims = {"FunctionName": function}
    return {"iterator_age_s": iterator_age_s(ctx, function),
            "errors": latest(ctx, LAMBDA, "Errors", dims, "Sum") or 0.0,
            "throttles": latest(ctx, LAMBDA, "Throttles", dims, "Sum") or 0.0,
            "records": latest(ctx, LAMBDA, "Invocations", dims, "Sum") or 0.0}


SHOP = "Shop"
BREAKER_PERIOD_S = 10  # BreakerOpen is high-resolution (every second from each storefront)


def breaker_state(ctx: ChaosContext, dependency: str) -> str | None:
    """The storefront's breaker to `dependency` as CloudWatch sees it: `open` when a replica
    reported BreakerOpen 1 in the newest 10-second period, `closed` when they reported 0, None
    with no report in the last minute. (Half-open reads as open: the shop publishes 1 while
    the breaker is not closed.) The local stack's admin endpoint needs a token the aws stack
    does not hand out; this reads what the breaker-open alarm reads."""
    value = latest(ctx, SHOP, "BreakerOpen", {"Dependency": dependency}, "Maximum",
                   BREAKER_PERIOD_S, 60.0)
    if value is None:
        return None
    return "open" if value >= 1 else "closed"
