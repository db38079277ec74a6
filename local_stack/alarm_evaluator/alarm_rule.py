"""An alarm's evaluation settings, read from a DescribeAlarms ``MetricAlarms`` entry and checked.

Pure (no I/O). Alarms that CloudWatch accepts but this local evaluator cannot evaluate are
rejected with ``UnsupportedAlarm`` and a message saying why, instead of being evaluated wrongly:
percentile (extended) statistics (moto cannot compute them), anomaly-detection band operators
(they need a band model), and metric-math alarms (``Metrics``).
"""

from __future__ import annotations

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


class UnsupportedAlarm(ValueError):
    """The alarm is valid on AWS but cannot be evaluated locally (message says why)."""


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

    @property
    def range_periods(self) -> int:
        """How many periods the evaluation range holds."""
        return evaluation_range(self.evaluation_periods)

    @classmethod
    def from_api(cls, alarm: Mapping[str, Any]) -> AlarmRule:
        """Build from a DescribeAlarms ``MetricAlarms`` item; raise UnsupportedAlarm or
        ValueError when it cannot be evaluated."""
        name = alarm.get("AlarmName", "?")
        if alarm.get("Metrics"):
            raise UnsupportedAlarm(
                f"{name}: metric math alarms (Metrics) are not evaluated locally")
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
        )


def _treat_missing_data(alarm: Mapping[str, Any]) -> TreatMissingData:
    if alarm.get("Namespace") in ALWAYS_IGNORE_MISSING_NAMESPACES:
        return TreatMissingData.IGNORE
    return TreatMissingData(alarm.get("TreatMissingData") or "missing")
