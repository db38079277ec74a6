"""The shop's CloudWatch alarms, defined once as code.

The same ``AlarmDefinition`` objects feed ``put_metric_alarm`` (``put_alarms`` here, against the
local moto endpoint or an account) and a CloudFormation/SAM template
(``cloudformation_resources``). Locally, ``local_stack.alarm_evaluator`` evaluates them as
CloudWatch would.

Also the metric names every publisher must use (the shop's ``Shop`` namespace, Lambda's
``AWS/Lambda``): publishers import the constants from here so names cannot drift.

The alarms (names with the default prefix ``shop-``; ``<fn>`` is a stream consumer without its
``shop-`` prefix: inventory, payment, order-completion, second-look, weekly-view):

alarm — metric — condition — period — M of N — missing data:

* ``shop-<fn>-stream-jam`` — AWS/Lambda IteratorAge — Maximum > 3000 ms — 10 s — 1 of 1 —
  breaching
* ``shop-<fn>-stream-jam-errors`` — AWS/Lambda Errors — Sum >= 3 — 10 s — 2 of 2 — notBreaching
* ``shop-<fn>-errors`` — AWS/Lambda Errors — Sum >= 1 — 60 s — 1 of 1 — notBreaching
* ``shop-<fn>-throttles`` — AWS/Lambda Throttles — Sum >= 1 — 10 s — 1 of 1 — notBreaching
* ``shop-storefront-5xx`` — Shop Http5xx (Service=storefront) — Sum >= 5 — 10 s — 2 of 3 —
  notBreaching
* ``shop-breaker-open-<dep>`` — Shop BreakerOpen (Dependency) — Maximum >= 1 — 10 s — 1 of 1 —
  missing
* ``shop-stream-on-failure-not-empty`` — AWS/SQS ApproximateNumberOfMessagesVisible (QueueName)
  — Maximum >= 1 — 60 s — 1 of 1 — notBreaching

Each builder's docstring says what the alarm detects and why its missing-data treatment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dashboards.queue_depth import (
    MESSAGES_VISIBLE,
    QUEUE_NAME_DIMENSION,
    SQS_NAMESPACE,
    publish_queue_depth,
)

__all__ = [
    "AlarmDefinition", "alarm_definitions", "put_alarms", "delete_alarms",
    "cloudformation_resources", "publish_queue_depth",
]

# ---------------------------------------------------------------------------------------------
# Metric names (AWS/Lambda as Lambda publishes them; Shop as the shop publishes them)
# ---------------------------------------------------------------------------------------------
LAMBDA_NAMESPACE = "AWS/Lambda"
FUNCTION_NAME_DIMENSION = "FunctionName"
INVOCATIONS = "Invocations"
ERRORS = "Errors"
THROTTLES = "Throttles"
DURATION = "Duration"  # milliseconds
ITERATOR_AGE = "IteratorAge"  # milliseconds, only published when an invocation happens

SHOP_NAMESPACE = "Shop"
SERVICE_DIMENSION = "Service"
DEPENDENCY_DIMENSION = "Dependency"
ORDERS_PLACED = "OrdersPlaced"
ORDERS_COMPLETED = "OrdersCompleted"
ORDERS_CANCELLED = "OrdersCancelled"
HTTP_5XX = "Http5xx"  # dimension Service
BREAKER_OPEN = "BreakerOpen"  # dimension Dependency: 1 while open, 0 otherwise, every second
OCC_CONFLICTS = "OccConflicts"
CACHE_HITS = "CacheHits"
CACHE_MISSES = "CacheMisses"
PAYMENT_LATENCY = "PaymentLatency"

STREAM_FUNCTIONS = (
    "shop-inventory", "shop-payment", "shop-order-completion", "shop-second-look",
    "shop-weekly-view",
)
BREAKER_DEPENDENCIES = ("payments", "reviews")
STOREFRONT_SERVICE = "storefront"
ON_FAILURE_QUEUE_NAME = "shop-stream-on-failure"  # the mappings' OnFailure SQS queue

# Thresholds, with the detection time they give (evaluator interval 1 s, 10-second periods).
JAM_ITERATOR_AGE_MS = 3000.0
JAM_ERRORS_PER_PERIOD = 3.0
STOREFRONT_5XX_PER_PERIOD = 5.0

GREATER = "GreaterThanThreshold"
GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"


@dataclass(frozen=True)
class AlarmDefinition:
    """One metric alarm, in PutMetricAlarm terms."""

    name: str
    description: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: str
    treat_missing_data: str
    unit: str | None = None

    def to_put_metric_alarm(self) -> dict[str, Any]:
        """Keyword arguments for boto3 ``cloudwatch.put_metric_alarm``."""
        args: dict[str, Any] = {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison_operator,
            "TreatMissingData": self.treat_missing_data,
            "ActionsEnabled": True,
        }
        if self.unit:
            args["Unit"] = self.unit
        return args

    def to_cloudformation(self) -> dict[str, Any]:
        """An ``AWS::CloudWatch::Alarm`` resource (same properties as PutMetricAlarm)."""
        properties = self.to_put_metric_alarm()
        properties.pop("ActionsEnabled")
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}

    @property
    def logical_id(self) -> str:
        """A CloudFormation logical id derived from the name (shop-inventory-x → ShopInventoryX)."""
        return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", self.name) if part)


def _short(function_name: str) -> str:
    return function_name.removeprefix("shop-")


def stream_jam_alarm(function_name: str, prefix: str = "shop-") -> AlarmDefinition:
    """Stream jam: the consumer's IteratorAge is high, or the consumer publishes nothing.

    A failing batch blocks its shard and is retried with the same records, so the age of the
    records sent to the function grows by about a second per second: IteratorAge Maximum above
    3 s. Detection time after the first failed batch: 2-3 s for the stuck record to age past the
    threshold + 0-10 s until its 10-second period is complete + up to 1 s evaluator interval:
    about 8 s on average and 14 s at worst (measured: 4-13 s), under 15 s with 1 datapoint out
    of 1. Each extra datapoint to alarm adds a full period (10 s) and would miss the target;
    a lower threshold would page on ordinary slow batches under load.

    Missing data is breaching: Lambda publishes IteratorAge only when it invokes, so a stalled or
    throttled consumer publishes nothing, and ``missing`` (the AWS default) would never alarm
    (the negative control test shows it). CloudWatch fills missing periods only when the
    evaluation range (3 periods here) has no datapoint at all, so a silent consumer alarms
    after 30-40 s (throttles are caught earlier by the throttles alarm).

    Idle-stream caveat: no traffic means no invocations, hence no IteratorAge, hence ALARM —
    on AWS too; an idle stream and a stalled consumer look the same in Lambda's metrics.
    Mitigation chosen: a heartbeat. The alarm is meant for streams that carry traffic at least
    every 30 s (one datapoint in the 3-period evaluation range keeps it OK): during game days
    the load generator provides it, and on AWS a canary writing a heartbeat item at least every
    30 s does. Arm the jam alarms (``put_alarms``) only while such traffic is expected, and
    ``delete_alarms`` when the load stops.
    """
    return AlarmDefinition(
        name=f"{prefix}{_short(function_name)}-stream-jam",
        description=(
            f"Stream jam on {function_name}: IteratorAge Maximum > {JAM_ITERATOR_AGE_MS:.0f} ms "
            "in a 10 s period (a failing batch retried while its records age), or no "
            "IteratorAge at all for 3 periods. Missing data is breaching because Lambda "
            "publishes IteratorAge only when it invokes: a stalled or throttled consumer is "
            "silent. Idle streams alarm too: needs traffic or a heartbeat every 30 s."),
        namespace=LAMBDA_NAMESPACE,
        metric_name=ITERATOR_AGE,
        dimensions=((FUNCTION_NAME_DIMENSION, function_name),),
        statistic="Maximum",
        period=10,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=JAM_ITERATOR_AGE_MS,
        comparison_operator=GREATER,
        treat_missing_data="breaching",
    )


def stream_jam_errors_alarm(function_name: str, prefix: str = "shop-") -> AlarmDefinition:
    """Stream jam seen as repeated Errors (seed 004: "monitor the Lambda Errors metric and
    react when the error rate keeps increasing"): at least 3 failed invocations in each of 2
    consecutive 10-second periods — a batch failing and being retried, not one transient error.
    Detection ~20 s. Missing data is notBreaching: no invocation means no error."""
    return AlarmDefinition(
        name=f"{prefix}{_short(function_name)}-stream-jam-errors",
        description=(
            f"Stream jam on {function_name} seen as repeated errors: Errors Sum >= "
            f"{JAM_ERRORS_PER_PERIOD:.0f} in 2 consecutive 10 s periods (a failing batch "
            "retried, seed 004). Missing data is notBreaching: no invocation, no error."),
        namespace=LAMBDA_NAMESPACE,
        metric_name=ERRORS,
        dimensions=((FUNCTION_NAME_DIMENSION, function_name),),
        statistic="Sum",
        period=10,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        threshold=JAM_ERRORS_PER_PERIOD,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data="notBreaching",
    )


def consumer_errors_alarm(function_name: str, prefix: str = "shop-") -> AlarmDefinition:
    """Any failed invocation of the consumer within a minute (early warning, standard 1-minute
    alarm). Missing data is notBreaching: Errors exists only when the function is invoked."""
    return AlarmDefinition(
        name=f"{prefix}{_short(function_name)}-errors",
        description=(
            f"{function_name} failed at least once in a minute (Errors Sum >= 1). Missing data "
            "is notBreaching: Errors is only published when the function is invoked."),
        namespace=LAMBDA_NAMESPACE,
        metric_name=ERRORS,
        dimensions=((FUNCTION_NAME_DIMENSION, function_name),),
        statistic="Sum",
        period=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=1.0,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data="notBreaching",
    )


def consumer_throttles_alarm(function_name: str, prefix: str = "shop-") -> AlarmDefinition:
    """The consumer is throttled (reserved concurrency exhausted or 0): its shard does not
    advance. Detection within ~11 s. Missing data is notBreaching: Throttles is only published
    when a throttle happens."""
    return AlarmDefinition(
        name=f"{prefix}{_short(function_name)}-throttles",
        description=(
            f"{function_name} is throttled (Throttles Sum >= 1 in a 10 s period): its stream "
            "shard does not advance. Missing data is notBreaching: Throttles is only published "
            "when a throttle happens."),
        namespace=LAMBDA_NAMESPACE,
        metric_name=THROTTLES,
        dimensions=((FUNCTION_NAME_DIMENSION, function_name),),
        statistic="Sum",
        period=10,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=1.0,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data="notBreaching",
    )


def storefront_5xx_alarm(prefix: str = "shop-") -> AlarmDefinition:
    """The storefront answers 5xx (503 while a dependency is down, or worse): at least 5 in 2 of
    the last 3 10-second periods, so one short burst (a replica killed mid-request) does not
    page. Missing data is notBreaching: the shop publishes Http5xx only when one happens."""
    return AlarmDefinition(
        name=f"{prefix}storefront-5xx",
        description=(
            f"Storefront 5xx: Http5xx Sum >= {STOREFRONT_5XX_PER_PERIOD:.0f} in 2 of the last 3 "
            "10 s periods. Missing data is notBreaching: Http5xx is only published when a 5xx "
            "happens."),
        namespace=SHOP_NAMESPACE,
        metric_name=HTTP_5XX,
        dimensions=((SERVICE_DIMENSION, STOREFRONT_SERVICE),),
        statistic="Sum",
        period=10,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=STOREFRONT_5XX_PER_PERIOD,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data="notBreaching",
    )


def breaker_open_alarm(dependency: str, prefix: str = "shop-") -> AlarmDefinition:
    """A storefront replica's circuit breaker to `dependency` is open (Maximum over replicas of
    BreakerOpen >= 1), within ~11 s. Missing data is ``missing``: every replica publishes
    BreakerOpen every second, so silence means no storefront is reporting, not that the breaker
    is closed or open; the alarm goes to INSUFFICIENT_DATA rather than guessing."""
    return AlarmDefinition(
        name=f"{prefix}breaker-open-{dependency}",
        description=(
            f"Circuit breaker to {dependency} open in a storefront replica (BreakerOpen Maximum "
            ">= 1 in a 10 s period). Missing data is missing: replicas publish it every second, "
            "so silence means nobody reports, not open or closed."),
        namespace=SHOP_NAMESPACE,
        metric_name=BREAKER_OPEN,
        dimensions=((DEPENDENCY_DIMENSION, dependency),),
        statistic="Maximum",
        period=10,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=1.0,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data="missing",
    )


def on_failure_queue_alarm(queue_name: str = ON_FAILURE_QUEUE_NAME,
                           prefix: str = "shop-") -> AlarmDefinition:
    """Records left a stream for the OnFailure queue (retries exhausted or too old): someone has
    to look at them and redrive. Standard 1-minute metric, as SQS publishes it. Missing data is
    notBreaching: SQS stops publishing for an inactive (empty, unused) queue."""
    return AlarmDefinition(
        name=f"{prefix}stream-on-failure-not-empty",
        description=(
            f"OnFailure queue {queue_name} holds records that left a stream "
            "(ApproximateNumberOfMessagesVisible Maximum >= 1 in a minute). Missing data is "
            "notBreaching: SQS stops publishing for an empty, unused queue."),
        namespace=SQS_NAMESPACE,
        metric_name=MESSAGES_VISIBLE,
        dimensions=((QUEUE_NAME_DIMENSION, queue_name),),
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=1.0,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data="notBreaching",
    )


def alarm_definitions(
    prefix: str = "shop-",
    *,
    functions: Sequence[str] = STREAM_FUNCTIONS,
    dependencies: Sequence[str] = BREAKER_DEPENDENCIES,
    on_failure_queue: str = ON_FAILURE_QUEUE_NAME,
) -> list[AlarmDefinition]:
    """Every alarm of the shop, in a stable order."""
    alarms: list[AlarmDefinition] = []
    for function_name in functions:
        alarms += [
            stream_jam_alarm(function_name, prefix),
            stream_jam_errors_alarm(function_name, prefix),
            consumer_errors_alarm(function_name, prefix),
            consumer_throttles_alarm(function_name, prefix),
        ]
    alarms.append(storefront_5xx_alarm(prefix))
    alarms += [breaker_open_alarm(dependency, prefix) for dependency in dependencies]
    alarms.append(on_failure_queue_alarm(on_failure_queue, prefix))
    return alarms


def put_alarms(cloudwatch_client: Any, prefix: str = "shop-", **options: Any) -> list[str]:
    """Create or update every alarm (options as for ``alarm_definitions``); return the names."""
    names = []
    for alarm in alarm_definitions(prefix, **options):
        cloudwatch_client.put_metric_alarm(**alarm.to_put_metric_alarm())
        names.append(alarm.name)
    return names


def delete_alarms(cloudwatch_client: Any, prefix: str = "shop-", **options: Any) -> list[str]:
    """Delete every alarm that ``put_alarms`` creates with the same arguments; return the names.
    Deleting an alarm that does not exist is not an error (as on AWS)."""
    names = [alarm.name for alarm in alarm_definitions(prefix, **options)]
    for batch in _chunks(names, 100):  # DeleteAlarms takes up to 100 names
        cloudwatch_client.delete_alarms(AlarmNames=batch)
    return names


def cloudformation_resources(prefix: str = "shop-", **options: Any) -> dict[str, Any]:
    """The alarms as CloudFormation/SAM ``Resources`` entries, keyed by logical id."""
    return {alarm.logical_id: alarm.to_cloudformation()
            for alarm in alarm_definitions(prefix, **options)}


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for offset in range(0, len(items), size):
        yield list(items[offset:offset + size])
