"""The shop's CloudWatch alarms, defined once as code.

The same ``AlarmDefinition`` (and ``InsightRuleDefinition``) objects feed ``put_metric_alarm`` /
``put_insight_rule`` (``put_alarms`` here, against the local moto endpoint or an account) and a
CloudFormation/SAM template (``cloudformation_resources``). Locally,
``local_stack.alarm_evaluator`` evaluates them as CloudWatch would, the Contributor Insights
rule from the consumers' log files. The Prometheus rules (dashboards/prometheus/alerts.yml)
state the same conditions for Prometheus.

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
* ``shop-<fn>-consumer-silent`` — FILL(Shop ConsumerHeartbeats (FunctionName) Sum, 0) < 7 —
  10 s — 1 of 1 — breaching
* ``shop-stream-stuck-correlation-id`` — INSIGHT_RULE_METRIC(shop-stream-failures-by-
  correlation-id, MaxContributorValue) >= 5 — 60 s — 1 of 1 — notBreaching (the Contributor
  Insights rule is defined here too: ``stuck_correlation_rule``)
* ``shop-storefront-5xx`` — Shop Http5xx (Service=storefront) — Sum >= 5 — 10 s — 2 of 3 —
  notBreaching
* ``shop-breaker-open-<dep>`` — Shop BreakerOpen (Dependency) — Maximum >= 1 — 10 s — 1 of 1 —
  missing
* ``shop-stream-on-failure-not-empty`` — AWS/SQS ApproximateNumberOfMessagesVisible (QueueName)
  — Maximum >= 1 — 60 s — 1 of 1 — notBreaching

Each builder's docstring says what the alarm detects and why its missing-data treatment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dashboards.queue_depth import (
    MESSAGES_VISIBLE,
    QUEUE_NAME_DIMENSION,
    SQS_NAMESPACE,
    publish_queue_depth,
)
from reference_app.cloudwatch import CONSUMER_HEARTBEATS
from reference_app.handlers.failure_log import CORRELATION_ID_FIELD, EVENT_FIELD, RECORD_FAILED
from reference_app.heartbeat import HEARTBEAT_INTERVAL_S

__all__ = [
    "AlarmDefinition", "InsightRuleDefinition", "alarm_definitions", "insight_rule_definitions",
    "put_alarms", "delete_alarms", "cloudformation_resources", "publish_queue_depth",
]

# ---------------------------------------------------------------------------------------------
# Metric names (AWS/Lambda as Lambda publishes them; Shop as the shop publishes them)
# ---------------------------------------------------------------------------------------------
LAMBDA_NAMESPACE = "AWS/Lambda"
LAMBDA_LOG_GROUP_PREFIX = "/aws/lambda/"  # a function's CloudWatch Logs group: prefix + name
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
SILENT_PERIOD_S = 10
# A live consumer acknowledges one heartbeat per HEARTBEAT_INTERVAL_S (10 in a period); fewer
# than 70 % of them in a period is "silent" (consumer_silent_alarm says why 70 %).
SILENT_HEARTBEATS_PER_PERIOD = round(0.7 * SILENT_PERIOD_S / HEARTBEAT_INTERVAL_S)

# One correlation ID failing this many times within a minute is "stuck" (a record retried, not
# a burst of different failures): the first five retries of a failing batch take ~2 s.
STUCK_FAILURES_PER_MINUTE = 5.0
STUCK_PERIOD_S = 60  # Contributor Insights reports per minute: a standard-resolution alarm

GREATER = "GreaterThanThreshold"
GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
LESS = "LessThanThreshold"


# Metric namespaces AWS publishes at 1-minute resolution (AlarmDefinition.on_aws)
ONE_MINUTE_NAMESPACES = frozenset({"AWS/Lambda", "AWS/SQS"})

METRIC_QUERY_ID = "m1"  # the metric a metric-math alarm's expression reads
EXPRESSION_QUERY_ID = "e1"


@dataclass(frozen=True)
class AlarmDefinition:
    """One metric alarm, in PutMetricAlarm terms.

    With ``expression`` it is a metric-math alarm: the expression (e.g. ``FILL(m1, 0)``) reads
    the metric described by the other fields as query ``m1``; an expression that reads no
    metric (``INSIGHT_RULE_METRIC``) leaves ``metric_name`` empty and gets ``period`` itself.
    """

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
    expression: str | None = None

    def to_put_metric_alarm(self) -> dict[str, Any]:
        """Keyword arguments for boto3 ``cloudwatch.put_metric_alarm``."""
        args: dict[str, Any] = {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison_operator,
            "TreatMissingData": self.treat_missing_data,
            "ActionsEnabled": True,
        }
        if self.expression is not None:
            args["Metrics"] = self.metric_queries()
            return args
        args.update({
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period,
        })
        if self.unit:
            args["Unit"] = self.unit
        return args

    def metric_queries(self) -> list[dict[str, Any]]:
        """The ``Metrics`` of a metric-math alarm (MetricDataQuery list)."""
        assert self.expression is not None
        expression: dict[str, Any] = {"Id": EXPRESSION_QUERY_ID, "Expression": self.expression,
                                      "Label": self.name, "ReturnData": True}
        if not self.metric_name:
            return [{**expression, "Period": self.period}]
        stat: dict[str, Any] = {
            "Metric": {"Namespace": self.namespace, "MetricName": self.metric_name,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions]},
            "Period": self.period, "Stat": self.statistic,
        }
        if self.unit:
            stat["Unit"] = self.unit
        return [{"Id": METRIC_QUERY_ID, "MetricStat": stat, "ReturnData": False}, expression]

    def to_cloudformation(self) -> dict[str, Any]:
        """An ``AWS::CloudWatch::Alarm`` resource (same properties as PutMetricAlarm)."""
        properties = self.to_put_metric_alarm()
        properties.pop("ActionsEnabled")
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}

    @property
    def logical_id(self) -> str:
        """A CloudFormation logical id derived from the name (shop-inventory-x → ShopInventoryX)."""
        return _logical_id(self.name)

    def on_aws(self) -> AlarmDefinition:
        """This alarm as deployed on AWS: the same, except that a period under 60 s on a metric
        AWS publishes once a minute (``ONE_MINUTE_NAMESPACES``) becomes 60 s, since CloudWatch
        cannot evaluate a 10-second period of a 1-minute metric. The shop's own ``Shop``
        metrics are high-resolution (StorageResolution 1) and keep their 10-second periods:
        that is why the heartbeat and breaker alarms read them."""
        if self.namespace in ONE_MINUTE_NAMESPACES and self.period < 60:
            return replace(self, period=60)
        return self


@dataclass(frozen=True)
class InsightRuleDefinition:
    """A Contributor Insights rule, in PutInsightRule terms; ``definition`` is the rule body in
    CloudWatch's JSON rule syntax (sent as text)."""

    name: str
    definition: dict[str, Any]

    def to_put_insight_rule(self) -> dict[str, Any]:
        return {"RuleName": self.name, "RuleState": "ENABLED",
                "RuleDefinition": json.dumps(self.definition, separators=(",", ":"))}

    def to_cloudformation(self) -> dict[str, Any]:
        """An ``AWS::CloudWatch::InsightRule`` resource."""
        return {"Type": "AWS::CloudWatch::InsightRule", "Properties": {
            "RuleName": self.name, "RuleState": "ENABLED",
            "RuleBody": json.dumps(self.definition, separators=(",", ":"))}}

    @property
    def logical_id(self) -> str:
        return _logical_id(self.name)


def _logical_id(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


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
    after 30-40 s (throttles are caught earlier by the throttles alarm, a dead or disabled
    consumer within 15 s by ``consumer_silent_alarm``).

    Idle-stream caveat: no traffic means no invocations, hence no IteratorAge, hence ALARM —
    on AWS too; an idle stream and a stalled consumer look the same in Lambda's metrics.
    Mitigation chosen: a heartbeat. The alarm is meant for streams that carry traffic at least
    every 30 s (one datapoint in the 3-period evaluation range keeps it OK): during game days
    the load generator provides it, and on AWS a canary writing a heartbeat item at least every
    30 s does (``reference_app.heartbeat`` writes one every second, which the silent-consumer
    alarm needs). Arm the jam alarms (``put_alarms``) only while such traffic is expected, and
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


def consumer_silent_alarm(function_name: str, prefix: str = "shop-") -> AlarmDefinition:
    """The consumer stopped consuming: fewer heartbeats acknowledged than a live one does.

    Why a custom metric: Lambda publishes its metrics (IteratorAge, Invocations, the event
    source mapping's PolledEventCount...) once a minute, so on AWS any alarm on them takes
    minutes; sub-minute needs a high-resolution custom metric. The heartbeat writer
    (``reference_app.heartbeat``) writes a row to each streamed table every second, and every
    consumer counts the heartbeat records it acknowledges in ``ConsumerHeartbeats`` (namespace
    Shop, by FunctionName, StorageResolution 1): about 10 per 10-second period while it
    consumes, whatever the load, and nothing while its poller (the event source mapping, or
    the local stream runtime) is dead, disabled or throttled, or its batches fail.

    Why metric math ``FILL(m1, 0)`` and a threshold (Sum < 7 in a period), not only missing
    data: with 1 datapoint out of 1 CloudWatch's evaluation range holds 3 periods and the
    newest *real* datapoint is the one evaluated, so missing data alone alarms only after
    30-40 s of silence. FILL turns an empty period into 0 (a breaching datapoint) as long as
    the range has data at all; and a count below 7 makes the period in which the consumer died
    breach already: a consumer dead x s into a period has acknowledged about x heartbeats in it
    (less the ~0.5 s in flight), so the alarm fires at that period's end when x < ~7.5, else at
    the next (empty, filled) period's end: at most 20 - 7.5 = 12.5 s + about 1 s of evaluation
    after the death, under the 15 s budget. The 3-heartbeat margin absorbs jitter (a heartbeat
    processed across a period boundary, a slow write). Missing data is breaching: a consumer
    that published nothing for the whole range (FILL has nothing to fill) is silent too.

    What else fires it, on purpose: a jam (failing batches acknowledge nothing), a throttled or
    disabled consumer, a consumer so far behind that heartbeats arrive late. Needs the
    heartbeat writer running; without it every consumer is silent (as it should look)."""
    return AlarmDefinition(
        name=f"{prefix}{_short(function_name)}-consumer-silent",
        description=(
            f"{function_name} stopped consuming: fewer than {SILENT_HEARTBEATS_PER_PERIOD:.0f} "
            f"of the ~{SILENT_PERIOD_S / HEARTBEAT_INTERVAL_S:.0f} heartbeat records written "
            f"per {SILENT_PERIOD_S} s were acknowledged "
            f"(FILL({CONSUMER_HEARTBEATS} Sum, 0), a high-resolution custom metric: Lambda's "
            "own metrics are 1-minute). Missing data is breaching: a dead consumer publishes "
            "nothing."),
        namespace=SHOP_NAMESPACE,
        metric_name=CONSUMER_HEARTBEATS,
        dimensions=((FUNCTION_NAME_DIMENSION, function_name),),
        statistic="Sum",
        period=SILENT_PERIOD_S,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=float(SILENT_HEARTBEATS_PER_PERIOD),
        comparison_operator=LESS,
        treat_missing_data="breaching",
        expression=f"FILL({METRIC_QUERY_ID}, 0)",
    )


def stuck_correlation_rule(prefix: str = "shop-",
                           functions: Sequence[str] = STREAM_FUNCTIONS) -> InsightRuleDefinition:
    """Seed 004's detector, as AWS builds it: a Contributor Insights rule over the consumers'
    log groups counting the structured failure lines (``reference_app.handlers.failure_log``:
    ``"event": "RecordFailed"``) per ``correlation_id``. Its top contributor is the correlation
    ID that fails most; one that keeps failing is a record retried again and again (a poison
    record holding its shard), where a burst of different IDs is an outage."""
    return InsightRuleDefinition(
        name=f"{prefix}stream-failures-by-correlation-id",
        definition={
            "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
            "LogGroupNames": [f"{LAMBDA_LOG_GROUP_PREFIX}{fn}" for fn in functions],
            "LogFormat": "JSON",
            "Contribution": {
                "Keys": [f"$.{CORRELATION_ID_FIELD}"],
                "Filters": [{"Match": f"$.{EVENT_FIELD}", "In": [RECORD_FAILED]}],
            },
            "AggregateOn": "Count",
        },
    )


def stuck_correlation_alarm(prefix: str = "shop-",
                            functions: Sequence[str] = STREAM_FUNCTIONS) -> AlarmDefinition:
    """One correlation ID keeps failing: ``INSIGHT_RULE_METRIC(rule, "MaxContributorValue")``
    >= 5 in a minute. The alarm says that some ID is stuck; the rule's report
    (GetInsightRuleReport) names it — locally the evaluator, which computes the rule from the
    log files (moto has no Contributor Insights), adds the top contributors to the alarm's
    StateReasonData.

    Period 60: Contributor Insights data is per minute, so the alarm fires at the end of the
    minute in which the fifth failure of one ID happened (+ about 1 s): 0-60 s after it, with
    the failures of a retried record coming every 0.1-1 s. Missing data is notBreaching: no
    failure line at all means nothing is failing."""
    rule = stuck_correlation_rule(prefix, functions)
    return AlarmDefinition(
        name=f"{prefix}stream-stuck-correlation-id",
        description=(
            f"One correlation ID failed at least {STUCK_FAILURES_PER_MINUTE:.0f} times in a "
            f"minute in the stream consumers' logs (Contributor Insights rule {rule.name}, "
            "MaxContributorValue): a record retried again and again, holding its shard (seed "
            "004). The rule's report names the ID. Missing data is notBreaching: no failure "
            "logged, nothing failing."),
        namespace="",
        metric_name="",
        dimensions=(),
        statistic="Maximum",
        period=STUCK_PERIOD_S,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=STUCK_FAILURES_PER_MINUTE,
        comparison_operator=GREATER_OR_EQUAL,
        treat_missing_data="notBreaching",
        expression=f"INSIGHT_RULE_METRIC('{rule.name}', 'MaxContributorValue')",
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
    on_aws: bool = False,
) -> list[AlarmDefinition]:
    """Every alarm of the shop, in a stable order; ``on_aws``: as deployed on AWS
    (``AlarmDefinition.on_aws``)."""
    alarms: list[AlarmDefinition] = []
    for function_name in functions:
        alarms += [
            stream_jam_alarm(function_name, prefix),
            stream_jam_errors_alarm(function_name, prefix),
            consumer_errors_alarm(function_name, prefix),
            consumer_throttles_alarm(function_name, prefix),
            consumer_silent_alarm(function_name, prefix),
        ]
    alarms.append(stuck_correlation_alarm(prefix, functions))
    alarms.append(storefront_5xx_alarm(prefix))
    alarms += [breaker_open_alarm(dependency, prefix) for dependency in dependencies]
    alarms.append(on_failure_queue_alarm(on_failure_queue, prefix))
    return [alarm.on_aws() for alarm in alarms] if on_aws else alarms


def insight_rule_definitions(prefix: str = "shop-", *,
                             functions: Sequence[str] = STREAM_FUNCTIONS,
                             **_options: Any) -> list[InsightRuleDefinition]:
    """Every Contributor Insights rule the alarms read (options as for alarm_definitions)."""
    return [stuck_correlation_rule(prefix, functions)]


def put_alarms(cloudwatch_client: Any, prefix: str = "shop-", **options: Any) -> list[str]:
    """Create or update every Contributor Insights rule, then every alarm (options as for
    ``alarm_definitions``); return the alarm names."""
    for rule in insight_rule_definitions(prefix, **options):
        cloudwatch_client.put_insight_rule(**rule.to_put_insight_rule())
    names = []
    for alarm in alarm_definitions(prefix, **options):
        cloudwatch_client.put_metric_alarm(**alarm.to_put_metric_alarm())
        names.append(alarm.name)
    return names


def delete_alarms(cloudwatch_client: Any, prefix: str = "shop-", **options: Any) -> list[str]:
    """Delete every alarm and insight rule that ``put_alarms`` creates with the same arguments;
    return the alarm names. Deleting one that does not exist is not an error (as on AWS)."""
    names = [alarm.name for alarm in alarm_definitions(prefix, **options)]
    for batch in _chunks(names, 100):  # DeleteAlarms takes up to 100 names
        cloudwatch_client.delete_alarms(AlarmNames=batch)
    rules = [rule.name for rule in insight_rule_definitions(prefix, **options)]
    cloudwatch_client.delete_insight_rules(RuleNames=rules)
    return names


def cloudformation_resources(prefix: str = "shop-", **options: Any) -> dict[str, Any]:
    """The insight rules and alarms as CloudFormation/SAM ``Resources`` entries, keyed by
    logical id."""
    resources = {rule.logical_id: rule.to_cloudformation()
                 for rule in insight_rule_definitions(prefix, **options)}
    resources.update({alarm.logical_id: alarm.to_cloudformation()
                      for alarm in alarm_definitions(prefix, **options)})
    return resources


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for offset in range(0, len(items), size):
        yield list(items[offset:offset + size])
