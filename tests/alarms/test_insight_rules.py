"""The seed-004 detector end to end, without a stack: the shop's Contributor Insights rule
(dashboards.cloudwatch_alarms) stored in moto, the handlers' structured failure lines in a log
group's file, the local rule evaluation (local_stack.insight_rules) and the alarm evaluator's
INSIGHT_RULE_METRIC alarm, which names the stuck correlation ID; plus the rule syntax."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dashboards import cloudwatch_alarms as ca
from local_stack.alarm_evaluator.runner import AlarmEvaluator
from local_stack.insight_rules.report import Contributions
from local_stack.insight_rules.rule import InsightRule, InvalidRule, UnsupportedRule
from local_stack.insight_rules.source import InsightRuleSource
from local_stack.log_groups import log_group_path
from reference_app.handlers.failure_log import failure_line

RULE = ca.stuck_correlation_rule()


def failure(cid: str, at: float, function: str = "shop-inventory") -> str:
    return failure_line(function, cid, "1234", "INSERT", ValueError("bad Qty"), now=at)


def test_the_shop_rule_counts_failure_lines_per_correlation_id() -> None:
    rule = InsightRule.parse(RULE.name, json.dumps(RULE.definition))
    assert rule.reads_group("/aws/lambda/shop-inventory")
    assert not rule.reads_group("/aws/lambda/other")
    assert rule.contribution(json.loads(failure("cid-1", 0.0))) == (("cid-1",), 1.0)
    assert rule.contribution({"level": "INFO", "correlation_id": "cid-1"}) is None
    assert rule.contribution({"event": "RecordFailed"}) is None  # no key, no contributor


@pytest.mark.parametrize("change, error", [
    ({"LogFormat": "CLF"}, UnsupportedRule),
    ({"Schema": {"Name": "ServiceLogRule", "Version": 1}}, UnsupportedRule),
    ({"AggregateOn": "Sum"}, InvalidRule),  # Sum needs ValueOf
    ({"AggregateOn": "Avg"}, InvalidRule),
    ({"LogGroupNames": []}, InvalidRule),
    ({"Contribution": {"Keys": ["$.a", "$.b", "$.c", "$.d", "$.e"]}}, InvalidRule),
    ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.a", "Like": ["x"]}]}},
     InvalidRule),
    ({"Contribution": {"Keys": ["$.a[0]"]}}, UnsupportedRule),
])
def test_definitions_cloudwatch_refuses_or_that_are_not_evaluated_locally_are_named(
        change: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        InsightRule.parse("r", {**RULE.definition, **change})


def test_filters_and_sum() -> None:
    rule = InsightRule.parse("r", {
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1}, "LogGroupNames": ["api*"],
        "LogFormat": "JSON", "AggregateOn": "Sum",
        "Contribution": {"Keys": ["$.ip", "$.req.method"], "ValueOf": "$.bytes", "Filters": [
            {"Match": "$.status", "GreaterThan": 499}, {"Match": "$.path", "StartsWith": ["/v1"]},
            {"Match": "$.bot", "IsPresent": False}]}})
    assert rule.reads_group("api-gateway-logs")
    event = {"ip": "1.2.3.4", "req": {"method": "PUT"}, "bytes": 10, "status": 503,
             "path": "/v1/x"}
    assert rule.contribution(event) == (("1.2.3.4", "PUT"), 10.0)
    assert rule.contribution({**event, "status": 200}) is None
    assert rule.contribution({**event, "path": "/v2"}) is None
    assert rule.contribution({**event, "bot": True}) is None


def test_report_metrics_per_period() -> None:
    c = Contributions()
    for at, key in ((0.5, "a"), (1.0, "a"), (2.0, "a"), (3.0, "b"), (61.0, "b")):
        c.add(at, (key,), 1.0)
    assert c.metric("MaxContributorValue", 0, 60) == 3
    assert c.metric("UniqueContributors", 0, 60) == 2
    assert c.metric("SampleCount", 0, 60) == c.metric("Sum", 0, 60) == 4
    assert c.metric("Average", 0, 60) == 2
    assert c.metric("MaxContributorValue", 60, 120) == 1
    assert c.metric("MaxContributorValue", 120, 180) is None  # no datapoint
    assert c.top(0, 120) == [(("a",), 3.0), (("b",), 2.0)]
    c.prune(now=1000.0)
    assert c.metric("SampleCount", 0, 120) is None


def _write(log_dir: Path, lines: list[str], function: str = "shop-inventory") -> None:
    path = log_group_path(log_dir, f"/aws/lambda/{function}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write("not json, a handler's text line\n")
        fh.write("\n".join(lines) + "\n")


@pytest.mark.usefixtures("history_patch")
def test_insight_alarm_fires_on_one_stuck_correlation_id_and_names_it(
        cloudwatch: Any, tmp_path: Path) -> None:
    """Six failures of one ID in a minute (a record retried) → ALARM, and the evaluator names
    the ID in the reason and StateReasonData; a minute without failures is OK again; as many
    failures spread over different IDs (an outage, not a stuck record) do not alarm; a
    disabled rule collects nothing."""
    ca.put_alarms(cloudwatch, functions=("shop-inventory", "shop-payment"))
    minute = (dt.datetime.now(dt.UTC).timestamp() // 60 - 3) * 60  # a past minute
    _write(tmp_path, [failure("stuck-1", minute + 5 + i) for i in range(6)]
           + [failure(f"other-{i}", minute + 10) for i in range(6)])
    _write(tmp_path, [failure("stuck-1", minute + 30, "shop-payment")], "shop-payment")
    source = InsightRuleSource(cloudwatch, tmp_path)
    evaluator = AlarmEvaluator(cloudwatch, insights=source)
    evaluator.run_once(dt.datetime.fromtimestamp(minute + 61, dt.UTC))
    [alarm] = cloudwatch.describe_alarms(
        AlarmNames=["shop-stream-stuck-correlation-id"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    assert "Top contributor: stuck-1 (7)" in alarm["StateReason"]
    data = json.loads(alarm["StateReasonData"])
    assert data["topContributors"][0] == {"Keys": ["stuck-1"], "ApproximateAggregateValue": 7.0}
    assert data["evaluatedDatapoints"][0]["value"] == 7.0

    def state_at(t: float) -> str:
        evaluator.run_once(dt.datetime.fromtimestamp(t, dt.UTC))
        return str(cloudwatch.describe_alarms(
            AlarmNames=["shop-stream-stuck-correlation-id"])["MetricAlarms"][0]["StateValue"])

    # the next minute: no failure at all: the rule collected and matched nothing (0), so the
    # alarm is OK again at once rather than evaluating the stuck minute for the whole range
    assert state_at(minute + 121) == "OK"
    # then six failures, six different IDs (an outage, no one stuck): still OK
    _write(tmp_path, [failure(f"burst-{i}", minute + 125) for i in range(6)])
    assert state_at(minute + 181) == "OK"
    # a disabled rule collects nothing: the same stuck ID goes unseen
    cloudwatch.disable_insight_rules(RuleNames=[RULE.name])
    _write(tmp_path, [failure("stuck-2", minute + 185 + i) for i in range(6)])
    assert state_at(minute + 241) == "OK"


@pytest.mark.usefixtures("history_patch")
def test_fill_alarm_breaches_on_an_empty_period_of_a_range_with_data(cloudwatch: Any) -> None:
    """FILL(m1, 0): a consumer that acknowledged its heartbeats and then none in the newest
    period is silent at once (without FILL the older datapoint would be evaluated)."""
    ca.put_alarms(cloudwatch, functions=("shop-inventory",))
    t = (dt.datetime.now(dt.UTC).timestamp() // 60 - 2) * 60

    def beats(back_s: int, n: float) -> None:
        cloudwatch.put_metric_data(Namespace="Shop", MetricData=[{
            "MetricName": "ConsumerHeartbeats", "Value": n, "StorageResolution": 1,
            "Timestamp": dt.datetime.fromtimestamp(t - back_s, dt.UTC),
            "Dimensions": [{"Name": "FunctionName", "Value": "shop-inventory"}]}])

    beats(25, 10.0)
    beats(15, 10.0)
    evaluator = AlarmEvaluator(cloudwatch)
    evaluator.run_once(dt.datetime.fromtimestamp(t - 10 + 1, dt.UTC))
    state = cloudwatch.describe_alarms(
        AlarmNames=["shop-inventory-consumer-silent"])["MetricAlarms"][0]
    assert state["StateValue"] == "OK"
    evaluator.run_once(dt.datetime.fromtimestamp(t + 1, dt.UTC))  # [t-10, t) is empty
    state = cloudwatch.describe_alarms(
        AlarmNames=["shop-inventory-consumer-silent"])["MetricAlarms"][0]
    assert state["StateValue"] == "ALARM"
    assert json.loads(state["StateReasonData"])["evaluatedDatapoints"][0]["value"] == 0.0
