"""The alarm definitions (dashboards/cloudwatch_alarms.py): settings, descriptions, put/delete
against moto, CloudFormation form, metric names shared with the publishers, queue depth."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from typing import Any

import pytest

from dashboards import cloudwatch_alarms as ca
from dashboards.queue_depth import publish_queue_depth, queue_name_from_url
from local_stack.alarm_evaluator.alarm_rule import AlarmRule
from local_stack.alarm_evaluator.runner import AlarmEvaluator
from tests.conftest import client


def by_name() -> dict[str, ca.AlarmDefinition]:
    return {alarm.name: alarm for alarm in ca.alarm_definitions()}


def test_names_are_unique_and_cover_every_consumer_and_dependency() -> None:
    names = [alarm.name for alarm in ca.alarm_definitions()]
    assert len(names) == len(set(names)) == 5 * 5 + 1 + 1 + 2 + 1
    for fn in ("inventory", "payment", "order-completion", "second-look", "weekly-view"):
        for kind in ("stream-jam", "stream-jam-errors", "errors", "throttles", "consumer-silent"):
            assert f"shop-{fn}-{kind}" in names
    assert {"shop-storefront-5xx", "shop-breaker-open-payments", "shop-breaker-open-reviews",
            "shop-stream-on-failure-not-empty", "shop-stream-stuck-correlation-id"} <= set(names)


def test_stream_jam_alarm_detects_within_15_seconds_and_treats_silence_as_breaching() -> None:
    jam = by_name()["shop-inventory-stream-jam"]
    assert (jam.namespace, jam.metric_name, jam.statistic) == ("AWS/Lambda", "IteratorAge",
                                                               "Maximum")
    assert jam.dimensions == (("FunctionName", "shop-inventory"),)
    assert (jam.period, jam.evaluation_periods, jam.datapoints_to_alarm) == (10, 1, 1)
    assert jam.treat_missing_data == "breaching"
    # worst case after the first failed batch: the stuck record ages past the threshold, its
    # period completes (M periods), the evaluator's 1 s interval
    worst_s = jam.threshold / 1000 + jam.period * jam.datapoints_to_alarm + 1
    assert worst_s < 15
    errors = by_name()["shop-inventory-stream-jam-errors"]
    assert (errors.metric_name, errors.statistic, errors.datapoints_to_alarm) == ("Errors", "Sum",
                                                                                 2)


def _heartbeat_periods(death_s: float, start_s: float = 0.0, lag_s: float = 0.5,
                       jitter_s: float = 0.0, until_s: float = 200.0) -> dict[int, float]:
    """Sum of acknowledged heartbeats per aligned 10 s period: one written every second from
    start_s, acknowledged lag_s (+/- jitter_s, alternating) later, none after death_s."""
    sums: dict[int, float] = {}
    k = 0
    while start_s + k < until_s:
        acked = start_s + k + lag_s + (jitter_s if k % 2 else -jitter_s)
        if acked < death_s:
            sums[int(acked // 10) * 10] = sums.get(int(acked // 10) * 10, 0.0) + 1.0
        k += 1
    return sums


def _alarm_time(alarm: ca.AlarmDefinition, sums: dict[int, float], after_s: float,
                until_s: float) -> float | None:
    """The first second (evaluated every second, as the local evaluator does) at which the
    alarm is ALARM, on the datapoints of `sums`, from the CloudWatch rules of the evaluator."""
    from local_stack.alarm_evaluator.alarm_rule import AlarmRule
    from local_stack.alarm_evaluator.datapoints import fill
    from local_stack.alarm_evaluator.evaluation import Datapoint, evaluate, evaluation_range

    rule = AlarmRule.from_api(alarm.to_put_metric_alarm())
    t = after_s
    while t <= until_s:
        end = int(t // alarm.period) * alarm.period
        starts = [end - alarm.period * i for i in range(evaluation_range(1), 0, -1)]
        window = [Datapoint(dt.datetime.fromtimestamp(1e9 + s, dt.UTC), sums.get(s))
                  for s in starts]
        if rule.math is not None and rule.math.fill_value is not None:
            window = fill(window, rule.math.fill_value)
        result = evaluate(window, evaluation_periods=alarm.evaluation_periods,
                          datapoints_to_alarm=alarm.datapoints_to_alarm,
                          threshold=alarm.threshold,
                          comparison_operator=alarm.comparison_operator,
                          treat_missing_data=alarm.treat_missing_data)
        if result.state is not None and result.state.value == "ALARM":
            return t
        t += 1.0
    return None


def test_consumer_silent_alarm_fires_within_15_s_of_any_death_and_never_while_alive() -> None:
    """The silent-consumer alarm on the heartbeats a consumer acknowledges (a high-resolution
    custom metric, valid on AWS where Lambda's own metrics are 1-minute): whatever the phase of
    the death within a 10 s period, ALARM within 15 s (evaluated every second, +1 s for the
    evaluator's own interval); a live consumer whose acknowledgements jitter by half a second
    never alarms. The same datapoints without FILL (missing data alone) take 30 s: the negative
    control for the metric math."""
    silent = by_name()["shop-inventory-consumer-silent"]
    assert (silent.namespace, silent.metric_name, silent.statistic) == (
        "Shop", "ConsumerHeartbeats", "Sum")
    assert silent.expression == "FILL(m1, 0)"
    assert silent.dimensions == (("FunctionName", "shop-inventory"),)
    assert (silent.period, silent.evaluation_periods, silent.datapoints_to_alarm) == (10, 1, 1)
    assert silent.treat_missing_data == "breaching"
    assert silent.comparison_operator == "LessThanThreshold"
    worst = 0.0
    for tenth in range(0, 100, 5):  # death 0.0, 0.5, ... 9.5 s into a period
        death = 100.0 + tenth / 10
        fired = _alarm_time(silent, _heartbeat_periods(death), death, death + 60)
        assert fired is not None
        worst = max(worst, fired - death)
    assert worst + 1.0 <= 15.0, worst
    alive = _heartbeat_periods(death_s=1e9, jitter_s=0.5)
    assert _alarm_time(silent, alive, 30.0, 190.0) is None
    for death in (100.2, 108.5):
        without_fill = ca.AlarmDefinition(**{**silent.__dict__, "expression": None})
        fired = _alarm_time(without_fill, _heartbeat_periods(death), death, death + 60)
        assert fired is not None and fired - death > 15.0, fired - death


def test_every_description_states_its_missing_data_treatment() -> None:
    for alarm in ca.alarm_definitions():
        assert len(alarm.description) <= 1024
        assert f"missing data is {alarm.treat_missing_data}".lower() in alarm.description.lower()


def test_every_alarm_is_evaluable_locally() -> None:
    for alarm in ca.alarm_definitions():
        rule = AlarmRule.from_api({"Metrics": [], **alarm.to_put_metric_alarm()})
        assert rule.name == alarm.name
        assert (rule.math is not None) == (alarm.expression is not None)


def test_cloudformation_resources() -> None:
    resources = ca.cloudformation_resources()
    assert len(resources) == len(ca.alarm_definitions()) + len(ca.insight_rule_definitions())
    for logical_id, resource in resources.items():
        assert re.fullmatch(r"[A-Za-z0-9]+", logical_id)
        if resource["Type"] == "AWS::CloudWatch::InsightRule":
            continue
        assert resource["Type"] == "AWS::CloudWatch::Alarm"
        assert resource["Properties"]["TreatMissingData"] in (
            "breaching", "notBreaching", "missing", "ignore")
    assert resources["ShopInventoryStreamJam"]["Properties"]["MetricName"] == "IteratorAge"
    rule = resources["ShopStreamFailuresByCorrelationId"]
    assert rule["Type"] == "AWS::CloudWatch::InsightRule"
    assert json.loads(rule["Properties"]["RuleBody"]) == ca.stuck_correlation_rule().definition
    stuck = resources["ShopStreamStuckCorrelationId"]["Properties"]
    assert "MetricName" not in stuck and "Period" not in stuck
    assert stuck["Metrics"][0]["Expression"] == (
        "INSIGHT_RULE_METRIC('shop-stream-failures-by-correlation-id', 'MaxContributorValue')")


def test_metric_names_match_the_shop_publisher() -> None:
    try:
        shop = importlib.import_module("reference_app.cloudwatch")
    except ImportError as exc:  # pragma: no cover - the shop is built alongside
        pytest.skip(f"reference_app.cloudwatch not importable: {exc}")
    for name in ("ORDERS_PLACED", "ORDERS_COMPLETED", "ORDERS_CANCELLED", "HTTP_5XX",
                 "BREAKER_OPEN", "OCC_CONFLICTS", "CACHE_HITS", "CACHE_MISSES",
                 "PAYMENT_LATENCY"):
        assert getattr(ca, name) == getattr(shop, name), name
    assert ca.SHOP_NAMESPACE == shop.NAMESPACE


def test_put_and_delete_alarms(cloudwatch: Any) -> None:
    names = ca.put_alarms(cloudwatch, prefix="t-")
    stored = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(stored) == set(names)
    jam = stored["t-payment-stream-jam"]
    assert (jam["TreatMissingData"], jam["Period"], jam["DatapointsToAlarm"]) == (
        "breaching", 10, 1)
    silent = stored["t-payment-consumer-silent"]
    assert [q["Id"] for q in silent["Metrics"]] == ["m1", "e1"]  # moto keeps the metric math
    assert silent["Metrics"][1]["Expression"] == "FILL(m1, 0)"
    rules = cloudwatch.describe_insight_rules()["InsightRules"]
    assert [(r["Name"], r["State"]) for r in rules] == [
        ("t-stream-failures-by-correlation-id", "ENABLED")]
    assert ca.put_alarms(cloudwatch, prefix="t-") == names  # idempotent
    assert ca.delete_alarms(cloudwatch, prefix="t-") == names
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert cloudwatch.describe_insight_rules()["InsightRules"] == []


@pytest.mark.usefixtures("history_patch")
def test_queue_depth_publisher_drives_the_on_failure_alarm(endpoint: str, cloudwatch: Any) -> None:
    sqs = client("sqs", endpoint)
    url = sqs.create_queue(QueueName=ca.ON_FAILURE_QUEUE_NAME)["QueueUrl"]
    assert queue_name_from_url(url) == ca.ON_FAILURE_QUEUE_NAME
    alarm = ca.on_failure_queue_alarm()
    cloudwatch.put_metric_alarm(**alarm.to_put_metric_alarm())
    assert publish_queue_depth(sqs, cloudwatch, url) == 0
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"record {i}")
    assert ca.publish_queue_depth(sqs, cloudwatch, url) == 2
    next_minute = dt.datetime.fromtimestamp(
        (dt.datetime.now(dt.UTC).timestamp() // 60 + 1) * 60, dt.UTC)
    changes = AlarmEvaluator(cloudwatch).run_once(next_minute + dt.timedelta(seconds=1))
    assert [(c.alarm, c.new_state) for c in changes] == [(alarm.name, "ALARM")]


@pytest.mark.usefixtures("history_patch")
def test_each_alarm_kind_fires_on_its_condition_only(cloudwatch: Any) -> None:
    ca.put_alarms(cloudwatch, functions=("shop-inventory", "shop-payment"))
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    t = dt.datetime.fromtimestamp(now.timestamp() // 60 * 60, dt.UTC)  # a past minute boundary

    def put(namespace: str, metric: str, dims: dict[str, str], back_s: int, value: float) -> None:
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": metric, "Value": value, "StorageResolution": 1,
            "Timestamp": t - dt.timedelta(seconds=back_s),
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}])

    inventory, payment = {"FunctionName": "shop-inventory"}, {"FunctionName": "shop-payment"}
    for back in (15, 5):  # inventory: 4 failed invocations in each of the last two periods
        for _ in range(4):
            put(ca.LAMBDA_NAMESPACE, ca.ERRORS, inventory, back, 1.0)
    for _ in range(4):  # payment: one bad period only, then fine
        put(ca.LAMBDA_NAMESPACE, ca.ERRORS, payment, 15, 1.0)
    put(ca.LAMBDA_NAMESPACE, ca.ERRORS, payment, 5, 0.0)
    put(ca.LAMBDA_NAMESPACE, ca.THROTTLES, payment, 5, 1.0)
    for fn in (inventory, payment):
        put(ca.LAMBDA_NAMESPACE, ca.ITERATOR_AGE, fn, 5, 150.0)
    put(ca.SHOP_NAMESPACE, ca.HTTP_5XX, {"Service": "storefront"}, 25, 6.0)
    put(ca.SHOP_NAMESPACE, ca.HTTP_5XX, {"Service": "storefront"}, 5, 7.0)
    put(ca.SHOP_NAMESPACE, ca.BREAKER_OPEN, {"Dependency": "payments"}, 5, 1.0)
    put(ca.SHOP_NAMESPACE, ca.BREAKER_OPEN, {"Dependency": "reviews"}, 5, 0.0)
    # payment acknowledges its 10 heartbeats in the last period; inventory fell silent
    put(ca.SHOP_NAMESPACE, ca.CONSUMER_HEARTBEATS, payment, 5, 10.0)
    put(ca.SHOP_NAMESPACE, ca.CONSUMER_HEARTBEATS, inventory, 15, 10.0)
    put(ca.SHOP_NAMESPACE, ca.CONSUMER_HEARTBEATS, inventory, 5, 3.0)

    AlarmEvaluator(cloudwatch).run_once(t + dt.timedelta(seconds=2))
    got = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert got == {
        "shop-inventory-stream-jam": "OK",
        "shop-inventory-stream-jam-errors": "ALARM",
        "shop-inventory-errors": "ALARM",
        "shop-inventory-throttles": "OK",
        "shop-inventory-consumer-silent": "ALARM",
        "shop-payment-consumer-silent": "OK",
        "shop-payment-stream-jam": "OK",
        "shop-payment-stream-jam-errors": "OK",
        "shop-payment-errors": "ALARM",
        "shop-payment-throttles": "ALARM",
        "shop-storefront-5xx": "ALARM",
        "shop-breaker-open-payments": "ALARM",
        "shop-breaker-open-reviews": "OK",
        "shop-stream-on-failure-not-empty": "OK",
        # not evaluated without the log files (tests/alarms/test_insight_rules.py does that)
        "shop-stream-stuck-correlation-id": "INSUFFICIENT_DATA",
    }
