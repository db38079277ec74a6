"""shop-second-look on the payments stream: amount and velocity flags, one alert per
transaction however often its record is delivered, the claim released when SQS fails."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from prometheus_client import REGISTRY

from reference_app.handlers import common, second_look
from tests.handlers.harness import Shop


def alerts(shop: Shop) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        page = shop.sqs.receive_message(QueueUrl=shop.queue_url, MaxNumberOfMessages=10,
                                        MessageAttributeNames=["All"], WaitTimeSeconds=0)
        if not page.get("Messages"):
            return messages
        for message in page["Messages"]:
            body = json.loads(message["Body"])
            body["_cid_attr"] = message["MessageAttributes"]["CorrelationId"]["StringValue"]
            messages.append(body)
            shop.sqs.delete_message(QueueUrl=shop.queue_url,
                                    ReceiptHandle=message["ReceiptHandle"])


def alert_count(reason: str) -> float:
    return REGISTRY.get_sample_value("shop_second_look_alerts_total", {"reason": reason}) or 0.0


def test_large_amount_alerts_once_despite_redelivery(shop: Shop) -> None:
    shop.add_product("SKU-GOLD", 5, price_cents=60000)
    shop.add_product("SKU-TEA", 5, price_cents=500)
    before = alert_count("amount")
    big = shop.checkout("rich", {"SKU-GOLD": 1}, price_cents=60000)
    shop.checkout("modest", {"SKU-TEA": 2}, price_cents=500)

    shop.pump(duplicates=3)
    payments_tap = shop.tap(shop.t.payments)
    shop.deliver("shop-second-look", second_look.handler, payments_tap.history, times=2)

    sent = alerts(shop)
    assert len(sent) == 1
    assert sent[0]["order_id"] == big and sent[0]["reasons"] == ["amount"]
    assert sent[0]["shopper_id"] == "rich" and sent[0]["amount_cents"] == 60000
    assert sent[0]["correlation_id"] == sent[0]["_cid_attr"] == f"cid-{big}"
    assert alert_count("amount") == before + 1
    cloudwatch = boto3.client("cloudwatch", endpoint_url=shop.settings.aws_endpoint_url,
                              region_name=shop.settings.aws_region)
    listed = cloudwatch.list_metrics(Namespace="Shop", MetricName="SecondLookAlerts")
    assert {"Name": "Reason", "Value": "amount"} in [
        d for m in listed["Metrics"] for d in m["Dimensions"]]


def test_velocity_flags_the_order_above_the_limit(shop: Shop,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECOND_LOOK_MAX_ORDERS", "3")
    shop.add_product("SKU-1", 50, price_cents=100)
    placed = []
    for _ in range(4):
        placed.append(shop.checkout("speedy", {"SKU-1": 1}, price_cents=100))
        shop.pump()
    shop.deliver("shop-second-look", second_look.handler, shop.tap(shop.t.payments).history,
                 times=2)

    sent = alerts(shop)
    assert [(a["order_id"], a["reasons"]) for a in sent] == [(placed[3], ["velocity"])]
    assert sent[0]["orders_last_60s"] > 3


def test_sliding_window_estimate(shop: Shop) -> None:
    minute = 1_000_000 * 60
    for n in range(4):  # four transactions late in one minute
        assert second_look.count_order("s1", f"k{n}", minute + 50) == n + 1
    assert second_look.count_order("s1", "k3", minute + 50) == 4  # counted once per key
    # 15 s into the next minute, 75 % of the previous minute still counts: 1 + 4 * 0.75
    assert second_look.count_order("s1", "k4", minute + 75) == pytest.approx(4.0)
    # two minutes later the old buckets are out of the window
    assert second_look.count_order("s1", "k5", minute + 180) == 1


def test_failed_send_releases_the_claim(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    shop.add_product("SKU-GOLD", 5, price_cents=70000)
    order_id = shop.checkout("rich", {"SKU-GOLD": 1}, price_cents=70000)
    monkeypatch.setenv("SECOND_LOOK_QUEUE_URL", shop.queue_url + "-missing")
    common.reset_process_state()
    shop.pump(second_look_too=False)
    captured = [r for r in shop.tap(shop.t.payments).read() if r["eventName"] == "MODIFY"]
    assert len(captured) == 1
    with pytest.raises(Exception):  # noqa: B017 - SQS's error class depends on the endpoint
        second_look.handler({"Records": captured}, None)
    assert alerts(shop) == []

    monkeypatch.setenv("SECOND_LOOK_QUEUE_URL", shop.queue_url)
    common.reset_process_state()
    for _ in range(2):
        assert second_look.handler({"Records": captured}, None) == {"batchItemFailures": []}
    assert [a["order_id"] for a in alerts(shop)] == [order_id]
