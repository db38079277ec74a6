"""CloudWatch metrics as AWS publishes them (GetMetricData): the newest datapoint of one metric,
the Lambda stream numbers the local stream runtime reports, read from AWS/Lambda, and their
sums since an earlier reading (`stream-delta`: errors, throttles, and the event source mapping
metrics for records read, sent to OnFailure and dropped).

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
    (Invocations; AWS has no per-record count outside ESM metrics), each the newest 1-minute
    datapoint, and `at` (when it was read; `stream_delta` sums from there)."""
    dims = {"FunctionName": function}
    return {"at": time.time(),  # when: `stream-delta` sums from here
            "iterator_age_s": iterator_age_s(ctx, function),
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


# -- stream-delta: sums since an earlier `stream` reading --------------------------------------

# the local stream runtime's record outcomes (stream-delta keys) as the event source mapping
# metrics AWS/Lambda publishes per EventSourceMappingUUID when its MetricsConfig asks for
# EventCount (every mapping of the template does)
ESM_RECORDS = {"records_read": "PolledEventCount",
               "records_on_failure": "OnFailureDestinationDeliveredEventCount",
               "records_discarded": "DroppedEventCount"}
FUNCTION_SUMS = {"errors": "Errors", "throttles": "Throttles", "records": "Invocations"}


def sums_since(ctx: ChaosContext, start: float,
               metrics: dict[str, tuple[str, dict[str, str]]]) -> dict[str, float]:
    """{key: Sum of the AWS/Lambda metric (name, dimensions) from the minute of `start` to
    now}: one GetMetricData with 60-second periods, every period added up. Minute resolution:
    what was counted earlier in `start`'s own minute counts too."""
    if not metrics:
        return {}
    now = time.time()
    ids = {f"q{i}": key for i, key in enumerate(metrics)}
    queries = [{"Id": qid, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": LAMBDA, "MetricName": metrics[key][0],
                   "Dimensions": [{"Name": k, "Value": v} for k, v in metrics[key][1].items()]},
        "Period": 60, "Stat": "Sum"}} for qid, key in ids.items()]
    resp = ctx.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=datetime.fromtimestamp(start - start % 60, tz=UTC),
        EndTime=datetime.fromtimestamp(now + 60, tz=UTC))
    sums = {key: 0.0 for key in metrics}
    for result in resp.get("MetricDataResults", []):
        sums[ids[result["Id"]]] += float(sum(result.get("Values") or []))
    return sums


def stream_delta(ctx: ChaosContext, function: str, since: dict[str, Any]) -> dict[str, Any]:
    """What the local `stream-delta` gives, from AWS/Lambda: the function's errors, throttles
    and invocations (`records`) and its mappings' records read (Polled), sent to the OnFailure
    destination and dropped, each summed since the `stream` reading `since` was taken (its
    `at`), plus the newest iterator_age_s. ValueError when `since` is not an aws reading."""
    from chaos.faults.lambda_lookup import mappings_of

    start = since.get("at") if isinstance(since, dict) else None
    if not isinstance(start, int | float):
        raise ValueError("stream-delta on aws needs `since` from a `stream` probe on aws "
                         "(its `at` says when it was read)")
    uuids = [str(m["UUID"]) for m in mappings_of(ctx, function)]
    metrics = {key: (name, {"FunctionName": function}) for key, name in FUNCTION_SUMS.items()}
    metrics.update({f"{key}#{uuid}": (name, {"EventSourceMappingUUID": uuid})
                    for key, name in ESM_RECORDS.items() for uuid in uuids})
    sums = sums_since(ctx, float(start), metrics)
    out: dict[str, Any] = {key: sums[key] for key in FUNCTION_SUMS}
    for key in ESM_RECORDS:
        out[key] = sum(v for k, v in sums.items() if k.split("#")[0] == key)
    out["iterator_age_s"] = iterator_age_s(ctx, function)
    out["since_s"] = round(time.time() - float(start), 3)
    return out
