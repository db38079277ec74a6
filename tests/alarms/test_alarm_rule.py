"""Unit tests of AlarmRule.from_api: what the evaluator accepts, and what it rejects clearly."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.alarm_evaluator.alarm_rule import AlarmRule, UnsupportedAlarm
from local_stack.alarm_evaluator.evaluation import ANOMALY_COMPARISONS, TreatMissingData


def api_alarm(**overrides: Any) -> dict[str, Any]:
    alarm = {
        "AlarmName": "a", "Namespace": "AWS/Lambda", "MetricName": "IteratorAge",
        "Dimensions": [{"Name": "FunctionName", "Value": "f"}], "Statistic": "Maximum",
        "Period": 10, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 3000.0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "breaching",
        "Metrics": [],
    }
    alarm.update(overrides)
    return alarm


def test_reads_the_settings() -> None:
    rule = AlarmRule.from_api(api_alarm())
    assert rule.dimensions == (("FunctionName", "f"),)
    assert (rule.period, rule.evaluation_periods, rule.datapoints_to_alarm) == (10, 3, 2)
    assert rule.treat_missing_data is TreatMissingData.BREACHING
    assert rule.range_periods == 5


def test_defaults_datapoints_to_alarm_to_n_and_missing_data_to_missing() -> None:
    alarm = api_alarm()
    del alarm["DatapointsToAlarm"], alarm["TreatMissingData"]
    rule = AlarmRule.from_api(alarm)
    assert rule.datapoints_to_alarm == 3
    assert rule.treat_missing_data is TreatMissingData.MISSING


def test_dynamodb_alarms_always_ignore_missing_data() -> None:
    rule = AlarmRule.from_api(api_alarm(Namespace="AWS/DynamoDB"))
    assert rule.treat_missing_data is TreatMissingData.IGNORE


@pytest.mark.parametrize("statistic", ["SampleCount", "Average", "Sum", "Minimum", "Maximum"])
def test_accepts_every_simple_statistic(statistic: str) -> None:
    assert AlarmRule.from_api(api_alarm(Statistic=statistic)).statistic == statistic


@pytest.mark.parametrize("operator", sorted(ANOMALY_COMPARISONS))
def test_rejects_anomaly_detection_operators_clearly(operator: str) -> None:
    with pytest.raises(UnsupportedAlarm, match="anomaly detection"):
        AlarmRule.from_api(api_alarm(ComparisonOperator=operator, ThresholdMetricId="ad1"))


def test_rejects_percentiles_and_metric_math_clearly() -> None:
    alarm = api_alarm(ExtendedStatistic="p99")
    del alarm["Statistic"]
    with pytest.raises(UnsupportedAlarm, match="percentile"):
        AlarmRule.from_api(alarm)
    with pytest.raises(UnsupportedAlarm, match="metric math"):
        AlarmRule.from_api(api_alarm(Metrics=[{"Id": "e1", "Expression": "m1*2"}]))


@pytest.mark.parametrize("overrides", [
    {"Period": 15}, {"Period": 90}, {"EvaluationPeriods": 0}, {"DatapointsToAlarm": 4},
    {"ComparisonOperator": "Equal"}, {"Period": 3600, "EvaluationPeriods": 25},
])
def test_rejects_invalid_settings(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AlarmRule.from_api(api_alarm(**overrides))


def test_reads_the_two_metric_math_forms_the_shop_uses() -> None:
    fill = AlarmRule.from_api(api_alarm(Metrics=[
        {"Id": "m1", "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "Shop", "MetricName": "ConsumerHeartbeats",
                       "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
            "Period": 10, "Stat": "Sum"}},
        {"Id": "e1", "Expression": "FILL(m1, 0)", "ReturnData": True}]))
    assert (fill.namespace, fill.metric_name, fill.statistic, fill.period) == (
        "Shop", "ConsumerHeartbeats", "Sum", 10)
    assert fill.math is not None and fill.math.fill_value == 0.0
    insight = AlarmRule.from_api(api_alarm(Metrics=[{
        "Id": "e1", "Period": 60, "ReturnData": True,
        "Expression": 'INSIGHT_RULE_METRIC("rule-1", MaxContributorValue)'}]))
    assert insight.math is not None and insight.period == 60
    assert (insight.math.insight_rule, insight.math.insight_metric) == (
        "rule-1", "MaxContributorValue")
    with pytest.raises(UnsupportedAlarm, match="no MetricStat query"):
        AlarmRule.from_api(api_alarm(Metrics=[{"Id": "e1", "Expression": "FILL(m9, 0)"}]))
    with pytest.raises(ValueError, match="unknown Contributor Insights metric"):
        AlarmRule.from_api(api_alarm(Metrics=[{
            "Id": "e1", "Period": 60, "Expression": "INSIGHT_RULE_METRIC('r', 'Top')"}]))
