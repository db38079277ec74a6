"""Unit tests of the CloudWatch-shaped StateReason / StateReasonData."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from local_stack.alarm_evaluator.alarm_rule import AlarmRule
from local_stack.alarm_evaluator.evaluation import (
    Datapoint,
    Evaluation,
    TreatMissingData,
    evaluate,
)
from local_stack.alarm_evaluator.reason import (
    MAX_REASON_CHARS,
    MAX_REASON_DATA_CHARS,
    iso,
    state_reason,
    state_reason_data,
)

T0 = dt.datetime(2026, 11, 22, 8, 9, 0, tzinfo=dt.UTC)
RULE = AlarmRule(
    name="jam", namespace="AWS/Lambda", metric_name="IteratorAge",
    dimensions=(("FunctionName", "f"),), statistic="Maximum", period=10,
    evaluation_periods=1, datapoints_to_alarm=1, threshold=3000.0,
    comparison_operator="GreaterThanThreshold", treat_missing_data=TreatMissingData.BREACHING,
)


def points(*values: float | None) -> list[Datapoint]:
    return [Datapoint(T0 + dt.timedelta(seconds=10 * i), v) for i, v in enumerate(values)]


def run(*values: float | None) -> Evaluation:
    return evaluate(points(*values), evaluation_periods=1, datapoints_to_alarm=1,
                    threshold=3000.0, comparison_operator="GreaterThanThreshold",
                    treat_missing_data="breaching")


def test_alarm_reason_reads_like_cloudwatch() -> None:
    reason = state_reason(RULE, run(100.0, 100.0, 5000.0), "OK")
    assert reason == ("Threshold Crossed: 1 out of the last 1 datapoints "
                      "[5000.0 (22/11/26 08:09:20)] was greater than the threshold (3000.0) "
                      "(minimum 1 datapoint for OK -> ALARM transition).")


def test_ok_reason_reads_like_cloudwatch() -> None:
    assert state_reason(RULE, run(5000.0, 5000.0, 100.0), "ALARM") == (
        "Threshold Crossed: 1 datapoint [100.0 (22/11/26 08:09:20)] was not greater than the "
        "threshold (3000.0).")


def test_missing_data_reason_names_the_treatment() -> None:
    assert state_reason(RULE, run(None, None, None), "OK") == (
        "Threshold Crossed: no datapoints were received for 3 periods and 1 missing datapoint "
        "was treated as [Breaching].")


def test_reason_data_is_cloudwatch_shaped_json() -> None:
    query = T0 + dt.timedelta(seconds=31, microseconds=250_000)
    data = json.loads(state_reason_data(RULE, run(100.0, 100.0, 5000.0), query))
    assert data == {
        "version": "1.0", "queryDate": "2026-11-22T08:09:31.250+0000",
        "startDate": "2026-11-22T08:09:20.000+0000", "statistic": "Maximum", "period": 10,
        "recentDatapoints": [5000.0], "threshold": 3000.0,
        "evaluatedDatapoints": [{"timestamp": "2026-11-22T08:09:20.000+0000", "value": 5000.0}],
    }


def test_filled_periods_have_a_timestamp_and_no_value() -> None:
    data = json.loads(state_reason_data(RULE, run(None, None, None), T0))
    assert data["evaluatedDatapoints"] == [{"timestamp": iso(T0 + dt.timedelta(seconds=20))}]
    assert data["recentDatapoints"] == []


def test_long_evaluations_fit_the_set_alarm_state_limits() -> None:
    many = dataclasses.replace(RULE, evaluation_periods=2000, datapoints_to_alarm=1000)
    result = evaluate([Datapoint(T0 + dt.timedelta(seconds=10 * i), 12345.678)
                       for i in range(2002)],
                      evaluation_periods=2000, datapoints_to_alarm=1000, threshold=3000.0,
                      comparison_operator="GreaterThanThreshold")
    assert len(state_reason(many, result, "OK")) <= MAX_REASON_CHARS
    data = state_reason_data(many, result, T0)
    assert len(data) <= MAX_REASON_DATA_CHARS
    newest = json.loads(data)["evaluatedDatapoints"][0]["timestamp"]
    assert newest == iso(T0 + dt.timedelta(seconds=10 * 2001))
