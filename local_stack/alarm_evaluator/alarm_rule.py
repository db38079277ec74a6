"""An alarm's evaluation settings, read from a DescribeAlarms ``MetricAlarms`` entry and checked.

Pure (no I/O). Alarms that CloudWatch accepts but this local evaluator cannot evaluate are
rejected with ``UnsupportedAlarm`` and a message saying why, instead of being evaluated wrongly:
percentile (extended) statistics (moto cannot compute them), anomaly-detection band operators
(they need a band model), and metric math (``Metrics``) beyond the two forms the shop's alarms
use, each one expression returning data:

* ``FILL(<id>, <number>)`` over one ``MetricStat`` query ``<id>``: the periods of the
  evaluation range without data get the number, as CloudWatch's FILL does (a range with no data
  at all stays empty, and TreatMissingData decides);
* ``INSIGHT_RULE_METRIC('<rule>', '<metric>')`` with the expression's own Period: a Contributor
  Insights rule's metric (MaxContributorValue, UniqueContributors, SampleCount, Sum, Minimum,
  Maximum, Average), which the evaluator computes from the rule's log groups
  (``local_stack.insight_rules``), as moto has no Contributor Insights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local_stack.alarm_evaluator.evaluation import (
    ANOMALY_COMPARISONS,
    COMPARISONS,
    STATISTICS,
    TreatMissingData,
    evaluation_range,
)

# PutMetricAlarm accepts 10, 20, 30 (high resolution) and any multiple of 60 seconds.
HIGH_RESOLUTION_PERIODS = (10, 20, 30)
# "Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore missing data even if
# you choose a different option for TreatMissingData" (PutMetricAlarm reference).
ALWAYS_IGNORE_MISSING_NAMESPACES = frozenset({"AWS/DynamoDB"})
MAX_EVALUATION_SECONDS = 86_400  # "EvaluationPeriods x Period cannot exceed one day"


INSIGHT_RULE_METRICS = ("UniqueContributors", "MaxContributorValue", "SampleCount", "Sum",
                        "Minimum", "Maximum", "Average")
_FILL = re.compile(r"^\s*FILL\(\s*([a-z][A-Za-z0-9_]*)\s*,\s*(-?[0-9]+(?:\.[0-9]+)?)\s*\)\s*$")
_INSIGHT = re.compile(
    r"^\s*INSIGHT_RULE_METRIC\(\s*(['\"])(.+?)\1\s*,\s*(['\"]?)([A-Za-z]+)\3\s*\)\s*$")


class UnsupportedAlarm(ValueError):
    """The alarm is valid on AWS but cannot be evaluated locally (message says why)."""


@dataclass(frozen=True)
class MetricMath:
    """The metric-math form of an alarm (see the module docstring)."""

    kind: str  # "FILL" | "INSIGHT_RULE_METRIC"
    expression: str
    fill_value: float | None = None  # FILL
    insight_rule: str | None = None  # INSIGHT_RULE_METRIC
    insight_metric: str | None = None


@dataclass(frozen=True)
class AlarmRule:
    """What the evaluator needs of one metric alarm."""

    name: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: str
    treat_missing_data: TreatMissingData
    unit: str | None = None
    math: MetricMath | None = None

    @property
    def range_periods(self) -> int:
        """How many periods the evaluation range holds."""
        return evaluation_range(self.evaluation_periods)

    @classmethod
    def from_api(cls, alarm: Mapping[str, Any]) -> AlarmRule:
        """Build from a DescribeAlarms ``MetricAlarms`` item; raise UnsupportedAlarm or
        ValueError when it cannot be evaluated."""
        name = alarm.get("AlarmName", "?")
        math: MetricMath | None = None
        if alarm.get("Metrics"):
            math, alarm = _metric_math(name, alarm)
        operator_name = alarm.get("ComparisonOperator", "")
        if operator_name in ANOMALY_COMPARISONS or alarm.get("ThresholdMetricId"):
            raise UnsupportedAlarm(
                f"{name}: anomaly detection operator {operator_name!r} needs a band model that "
                "nothing local computes; use a static threshold locally")
        if operator_name not in COMPARISONS:
            raise ValueError(f"{name}: unknown ComparisonOperator {operator_name!r}")
        if alarm.get("ExtendedStatistic"):
            raise UnsupportedAlarm(
                f"{name}: percentile statistic {alarm['ExtendedStatistic']!r} cannot be "
                "computed by moto's GetMetricData; use one of " + ", ".join(STATISTICS))
        statistic = alarm.get("Statistic", "")
        if statistic not in STATISTICS:
            raise ValueError(f"{name}: unknown Statistic {statistic!r}")
        period = int(alarm.get("Period") or 0)
        if period not in HIGH_RESOLUTION_PERIODS and (period <= 0 or period % 60):
            raise ValueError(f"{name}: Period {period} is not 10, 20, 30 or a multiple of 60")
        n = int(alarm.get("EvaluationPeriods") or 0)
        m = int(alarm.get("DatapointsToAlarm") or n)
        if n < 1 or not 1 <= m <= n:
            raise ValueError(f"{name}: need 1 <= DatapointsToAlarm ({m}) <= "
                             f"EvaluationPeriods ({n})")
        if n * period > MAX_EVALUATION_SECONDS:
            raise ValueError(f"{name}: EvaluationPeriods x Period exceeds one day")
        if "Threshold" not in alarm:
            raise ValueError(f"{name}: no Threshold")
        return cls(
            name=name,
            namespace=alarm["Namespace"],
            metric_name=alarm["MetricName"],
            dimensions=tuple((d["Name"], d["Value"]) for d in alarm.get("Dimensions", [])),
            statistic=statistic,
            period=period,
            evaluation_periods=n,
            datapoints_to_alarm=m,
            threshold=float(alarm["Threshold"]),
            comparison_operator=operator_name,
            treat_missing_data=_treat_missing_data(alarm),
            unit=alarm.get("Unit") or None,
            math=math,
        )


def _metric_math(name: str, alarm: Mapping[str, Any]) -> tuple[MetricMath, dict[str, Any]]:
    """The alarm's metric math, and the alarm with the metric it reads spelled out as a plain
    metric alarm's fields (Namespace, MetricName, Dimensions, Statistic, Period, Unit)."""
    queries = list(alarm["Metrics"])
    returned = [q for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1 or not returned[0].get("Expression"):
        raise UnsupportedAlarm(
            f"{name}: metric math is evaluated locally only as one expression returning data "
            "(FILL(id, n) over one metric, or INSIGHT_RULE_METRIC(rule, metric))")
    expression = str(returned[0]["Expression"])
    spelled = dict(alarm)
    if fill := _FILL.match(expression):
        inner = [q for q in queries if q.get("Id") == fill.group(1) and q.get("MetricStat")]
        if not inner:
            raise UnsupportedAlarm(f"{name}: {expression}: no MetricStat query {fill.group(1)!r}")
        stat = inner[0]["MetricStat"]
        metric = stat.get("Metric") or {}
        spelled.update(Namespace=metric.get("Namespace"), MetricName=metric.get("MetricName"),
                       Dimensions=metric.get("Dimensions") or [], Statistic=stat.get("Stat"),
                       Period=stat.get("Period"), Unit=stat.get("Unit"))
        return MetricMath("FILL", expression, fill_value=float(fill.group(2))), spelled
    if insight := _INSIGHT.match(expression):
        metric_name = insight.group(4)
        if metric_name not in INSIGHT_RULE_METRICS:
            raise ValueError(f"{name}: {expression}: unknown Contributor Insights metric "
                             f"{metric_name!r} (one of {', '.join(INSIGHT_RULE_METRICS)})")
        # Statistic: the insight metric is the value itself; Maximum keeps the rules' checks
        spelled.update(Namespace="", MetricName=metric_name, Dimensions=[],
                       Statistic="Maximum", Period=returned[0].get("Period"), Unit=None)
        return MetricMath("INSIGHT_RULE_METRIC", expression, insight_rule=insight.group(2),
                          insight_metric=metric_name), spelled
    raise UnsupportedAlarm(
        f"{name}: metric math {expression!r} is not evaluated locally (only FILL(id, n) over "
        "one metric and INSIGHT_RULE_METRIC(rule, metric))")


def _treat_missing_data(alarm: Mapping[str, Any]) -> TreatMissingData:
    if alarm.get("Namespace") in ALWAYS_IGNORE_MISSING_NAMESPACES:
        return TreatMissingData.IGNORE
    return TreatMissingData(alarm.get("TreatMissingData") or "missing")
