"""The alarm definitions (dashboards/cloudwatch_alarms.py): settings, descriptions, put/delete
against moto, CloudFormation form, metric names shared with the publishers, queue depth."""

from __future__ import annotations

import datetime as dt
import importlib
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
    assert len(names) == len(set(names)) == 5 * 4 + 1 + 2 + 1
    for fn in ("inventory", "payment", "order-completion", "second-look", "weekly-view"):
        for kind in ("stream-jam", "stream-jam-errors", "errors", "throttles"):
            assert f"shop-{fn}-{kind}" in names
    assert {"shop-storefront-5xx", "shop-breaker-open-payments", "shop-breaker-open-reviews",
            "shop-stream-on-failure-not-empty"} <= set(names)


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


def test_every_description_states_its_missing_data_treatment() -> None:
    for alarm in ca.alarm_definitions():
        assert len(alarm.description) <= 1024
        assert f"missing data is {alarm.treat_missing_data}".lower() in alarm.description.lower()


def test_every_alarm_is_evaluable_locally() -> None:
    for alarm in ca.alarm_definitions():
        rule = AlarmRule.from_api({**alarm.to_put_metric_alarm(), "Metrics": []})
        assert rule.name == alarm.name


def test_cloudformation_resources() -> None:
    resources = ca.cloudformation_resources()
    assert len(resources) == len(ca.alarm_definitions())
    for logical_id, resource in resources.items():
        assert re.fullmatch(r"[A-Za-z0-9]+", logical_id)
        assert resource["Type"] == "AWS::CloudWatch::Alarm"
        assert resource["Properties"]["TreatMissingData"] in (
            "breaching", "notBreaching", "missing", "ignore")
    assert resources["ShopInventoryStreamJam"]["Properties"]["MetricName"] == "IteratorAge"


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
    assert ca.put_alarms(cloudwatch, prefix="t-") == names  # idempotent
    assert ca.delete_alarms(cloudwatch, prefix="t-") == names
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


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

    AlarmEvaluator(cloudwatch).run_once(t + dt.timedelta(seconds=2))
    got = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert got == {
        "shop-inventory-stream-jam": "OK",
        "shop-inventory-stream-jam-errors": "ALARM",
        "shop-inventory-errors": "ALARM",
        "shop-inventory-throttles": "OK",
        "shop-payment-stream-jam": "OK",
        "shop-payment-stream-jam-errors": "OK",
        "shop-payment-errors": "ALARM",
        "shop-payment-throttles": "ALARM",
        "shop-storefront-5xx": "ALARM",
        "shop-breaker-open-payments": "ALARM",
        "shop-breaker-open-reviews": "OK",
        "shop-stream-on-failure-not-empty": "OK",
    }
