"""The evaluator against a real moto server, with datapoints stamped in the past so that one
``run_once(now)`` is enough (no waiting): statistics through GetMetricData, states and reasons
written with SetAlarmState, history through DescribeAlarmHistory, unpatched moto, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from typing import Any

import pytest

from local_stack.alarm_evaluator.runner import AlarmEvaluator
from tests.alarms.moto_helpers import subprocess_env
from tests.conftest import REPO

NS = "Test/Alarms"


def boundary(seconds: int = 60) -> dt.datetime:
    """A period boundary a few minutes ago: periods before it are complete at `boundary + 5 s`."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return dt.datetime.fromtimestamp(now.timestamp() // seconds * seconds, dt.UTC)


def put_alarm(cw: Any, name: str, **settings: Any) -> None:
    args = {
        "AlarmName": name, "Namespace": NS, "MetricName": "M",
        "Dimensions": [{"Name": "D", "Value": "x"}], "Statistic": "Maximum", "Period": 10,
        "EvaluationPeriods": 1, "DatapointsToAlarm": 1, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing",
    }
    args.update(settings)
    cw.put_metric_alarm(**args)


def put_values(cw: Any, at: dt.datetime, values: list[float], metric: str = "M") -> None:
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": metric, "Dimensions": [{"Name": "D", "Value": "x"}], "Timestamp": at,
         "Value": v, "StorageResolution": 1} for v in values])


def states(cw: Any) -> dict[str, str]:
    return {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms()["MetricAlarms"]}


@pytest.mark.usefixtures("history_patch")
def test_each_statistic_is_computed_by_moto_and_compared(cloudwatch: Any) -> None:
    t = boundary()
    put_values(cloudwatch, t - dt.timedelta(seconds=7), [1.0, 2.0])
    put_values(cloudwatch, t - dt.timedelta(seconds=3), [6.0])  # same period [t-10, t)
    put_values(cloudwatch, t - dt.timedelta(seconds=15), [100.0])  # the period before
    cases = {  # period [t-10, t): SampleCount 3, Sum 9, Average 3, Minimum 1, Maximum 6
        "count-alarm": ("SampleCount", 3.0), "count-ok": ("SampleCount", 3.5),
        "sum-alarm": ("Sum", 9.0), "sum-ok": ("Sum", 9.5),
        "avg-alarm": ("Average", 3.0), "avg-ok": ("Average", 3.1),
        "min-alarm": ("Minimum", 1.0), "min-ok": ("Minimum", 1.1),
        "max-alarm": ("Maximum", 6.0), "max-ok": ("Maximum", 6.1),
    }
    for name, (statistic, threshold) in cases.items():
        put_alarm(cloudwatch, name, Statistic=statistic, Threshold=threshold)
    AlarmEvaluator(cloudwatch).run_once(t + dt.timedelta(seconds=5))
    assert states(cloudwatch) == {name: name.rsplit("-", 1)[1].upper() for name in cases}


@pytest.mark.usefixtures("history_patch")
def test_alarm_then_ok_with_reason_and_history(cloudwatch: Any) -> None:
    t = boundary()
    put_alarm(cloudwatch, "jam", Threshold=3000.0, ComparisonOperator="GreaterThanThreshold",
              TreatMissingData="breaching")
    assert states(cloudwatch) == {"jam": "INSUFFICIENT_DATA"}  # as AWS creates alarms
    put_values(cloudwatch, t - dt.timedelta(seconds=25), [200.0])
    put_values(cloudwatch, t - dt.timedelta(seconds=5), [4500.0])
    put_values(cloudwatch, t + dt.timedelta(seconds=5), [100.0])
    evaluator = AlarmEvaluator(cloudwatch)
    first = evaluator.run_once(t + dt.timedelta(seconds=1))
    second = evaluator.run_once(t + dt.timedelta(seconds=11))
    assert [(x.old_state, x.new_state) for x in first + second] == [
        ("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]

    alarm = cloudwatch.describe_alarms(AlarmNames=["jam"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [100.0 (")
    data = json.loads(alarm["StateReasonData"])
    assert data["recentDatapoints"] == [100.0] and data["period"] == 10

    items = cloudwatch.describe_alarm_history(AlarmName="jam", HistoryItemType="StateUpdate",
                                              ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in items] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM", "Alarm updated from ALARM to OK"]
    change = json.loads(items[0]["HistoryData"])
    assert change["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    assert change["newState"]["stateReasonData"]["recentDatapoints"] == [4500.0]
    assert "was greater than the threshold (3000.0)" in change["newState"]["stateReason"]


@pytest.mark.usefixtures("history_patch")
def test_history_api_filters_pages_and_keeps_state_on_update(cloudwatch: Any) -> None:
    put_alarm(cloudwatch, "h")
    for state in ("OK", "ALARM", "OK"):
        cloudwatch.set_alarm_state(AlarmName="h", StateValue=state, StateReason="test")
    put_alarm(cloudwatch, "h", Threshold=2.0)  # an update leaves the state unchanged (AWS)
    assert states(cloudwatch) == {"h": "OK"}
    everything = cloudwatch.describe_alarm_history(AlarmName="h")["AlarmHistoryItems"]
    assert [i["HistoryItemType"] for i in everything] == [  # newest first by default
        "ConfigurationUpdate", "StateUpdate", "StateUpdate", "StateUpdate", "ConfigurationUpdate"]
    assert everything[-1]["HistorySummary"] == 'Alarm "h" created'
    assert everything[0]["HistorySummary"] == 'Alarm "h" updated'
    page = cloudwatch.describe_alarm_history(AlarmName="h", MaxRecords=2)
    rest = cloudwatch.describe_alarm_history(AlarmName="h", NextToken=page["NextToken"])
    assert len(page["AlarmHistoryItems"]) == 2 and len(rest["AlarmHistoryItems"]) == 3
    paginated = [i for p in cloudwatch.get_paginator("describe_alarm_history").paginate(
        AlarmName="h", PaginationConfig={"PageSize": 2}) for i in p["AlarmHistoryItems"]]
    assert len(paginated) == 5
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert cloudwatch.describe_alarm_history(StartDate=later)["AlarmHistoryItems"] == []


def test_unpatched_moto_initial_ok_is_read_as_insufficient_data(cloudwatch: Any) -> None:
    put_alarm(cloudwatch, "plain")
    alarm = cloudwatch.describe_alarms()["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == (
        "OK", "Unchecked: Initial alarm creation")  # moto's own initial state
    t = boundary()
    assert AlarmEvaluator(cloudwatch).run_once(t + dt.timedelta(seconds=5)) == []
    assert states(cloudwatch) == {"plain": "INSUFFICIENT_DATA"}
    put_values(cloudwatch, t - dt.timedelta(seconds=4), [5.0])
    changes = AlarmEvaluator(cloudwatch).run_once(t + dt.timedelta(seconds=5))
    assert [(c.old_state, c.new_state) for c in changes] == [("INSUFFICIENT_DATA", "ALARM")]


def test_command_line_warns_when_the_endpoint_has_no_history(endpoint: str) -> None:
    done = subprocess.run([sys.executable, "-m", "local_stack.alarm_evaluator", "--once"],
                          cwd=REPO, env=subprocess_env(endpoint), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "DescribeAlarmHistory does not work" in done.stderr


@pytest.mark.usefixtures("history_patch")
def test_percentile_alarm_is_reported_and_skipped(cloudwatch: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="p99", Namespace=NS, MetricName="M", ExtendedStatistic="p99", Period=10,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    put_alarm(cloudwatch, "fine")
    with caplog.at_level(logging.ERROR, logger="local_stack.alarm_evaluator"):
        AlarmEvaluator(cloudwatch).run_once(boundary() + dt.timedelta(seconds=5))
    assert "percentile statistic 'p99'" in caplog.text
    assert states(cloudwatch) == {"p99": "INSUFFICIENT_DATA", "fine": "INSUFFICIENT_DATA"}


@pytest.mark.usefixtures("history_patch")
def test_command_line_once_and_loopback_guard(endpoint: str, cloudwatch: Any) -> None:
    put_alarm(cloudwatch, "cli", TreatMissingData="breaching")
    done = subprocess.run([sys.executable, "-m", "local_stack.alarm_evaluator", "--once"],
                          cwd=REPO, env=subprocess_env(endpoint), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert states(cloudwatch) == {"cli": "ALARM"}
    assert "alarm cli: INSUFFICIENT_DATA -> ALARM" in done.stderr
    assert "DescribeAlarmHistory does not work" not in done.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "local_stack.alarm_evaluator", "--once",
         "--endpoint-url", "http://10.1.2.3:4566"],
        cwd=REPO, env=subprocess_env(endpoint), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "outside loopback" in refused.stderr
