"""Checkout over HTTP when answers get lost (issue 12 items 2 and 3): the order exists before the
charge, a retried checkout with the same Idempotency-Key returns the same order, and a failure
is never answered for a write that may have happened without saying so."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import requests

from reference_app.aws import dynamodb_client
from reference_app.config import Settings
from reference_app.ddb import from_item
from tests.shop.conftest import Shop, SlowAnswers, running_shop, serving

pytestmark = pytest.mark.integration
T = 30


@pytest.fixture(scope="module")
def slow_shop(base_settings: Settings) -> Iterator[tuple[Shop, SlowAnswers]]:
    proxy = SlowAnswers(base_settings.aws_endpoint_url or "")
    with serving(proxy) as url:
        with running_shop(dataclasses.replace(base_settings, aws_endpoint_url=url)) as shop:
            yield shop, proxy


def _cart(shop: Shop, sku: str = "SKU-00027") -> tuple[str, dict[str, str]]:
    shopper, headers = shop.new_shopper()
    added = requests.post(f"{shop.storefront}/v1/carts/{shopper}/items",
                          json={"sku": sku, "qty": 1}, headers=headers, timeout=T)
    assert added.status_code == 200, added.text
    return shopper, headers


def _orders_of(shop: Shop, owner: str) -> list[dict]:
    rows = dynamodb_client(shop.settings).scan(
        TableName=shop.settings.tables.orders, ConsistentRead=True,
        FilterExpression="#o = :o", ExpressionAttributeNames={"#o": "Owner"},
        ExpressionAttributeValues={":o": {"S": owner}})["Items"]
    return [from_item(row) or {} for row in rows]


def _payments_of(shop: Shop, order_id: str) -> list[dict]:
    rows = dynamodb_client(shop.settings).scan(
        TableName=shop.settings.tables.payments, ConsistentRead=True,
        FilterExpression="OrderId = :o", ExpressionAttributeValues={":o": {"S": order_id}},
    )["Items"]
    return [from_item(row) or {} for row in rows]


def test_a_retried_checkout_returns_the_same_order(shop: Shop) -> None:
    shopper, headers = _cart(shop)
    url = f"{shop.storefront}/v1/carts/{shopper}/checkout"
    keyed = {**headers, "Idempotency-Key": "checkout-1"}
    first = requests.post(url, headers=keyed, timeout=T)
    again = requests.post(url, headers=keyed, timeout=T)
    assert (first.status_code, again.status_code) == (202, 202), (first.text, again.text)
    assert first.json()["order_id"] == again.json()["order_id"]
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == \
        ("false", "true")
    assert again.headers["Location"] == f"/v1/orders/{first.json()['order_id']}"
    assert len(_orders_of(shop, shopper)) == 1
    assert len(_payments_of(shop, first.json()["order_id"])) == 1
    bad = requests.post(url, headers={**headers, "Idempotency-Key": "no spaces"}, timeout=T)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "Idempotency-Key"


def test_lost_dynamodb_answers_are_outcome_unknown_and_a_retry_completes_the_order(
        slow_shop: tuple[Shop, SlowAnswers]) -> None:
    """The order transaction is applied but every answer is lost (the SDK's retries too): the
    checkout says 503 `outcome_unknown` with the order id and key (main answered 503 "could not
    record the order" with the order written); the retry with the key returns that order."""
    shop, proxy = slow_shop
    shopper, headers = _cart(shop)
    url = f"{shop.storefront}/v1/carts/{shopper}/checkout"
    proxy.slow("TransactWriteItems", 10)
    try:
        first = requests.post(url, headers={**headers, "Idempotency-Key": "k-1"}, timeout=T)
    finally:
        proxy.slow("TransactWriteItems", 0)
    assert first.status_code == 503, (proxy.held, first.text)
    body = first.json()
    assert body["error"]["code"] == "outcome_unknown", body
    assert body["idempotency_key"] == "k-1" and body["order_id"]
    assert int(first.headers["Retry-After"]) >= 1

    again = requests.post(url, headers={**headers, "Idempotency-Key": "k-1"}, timeout=T)
    assert again.status_code == 202, again.text
    assert again.json()["order_id"] == body["order_id"]
    orders = _orders_of(shop, shopper)
    assert [(o["OrderId"], o["Status"]) for o in orders] == [(body["order_id"], "PENDING")]
    assert [p["Status"] for p in _payments_of(shop, body["order_id"])] == ["AUTHORIZED"]


def test_an_answer_lost_once_is_not_a_conflict(slow_shop: tuple[Shop, SlowAnswers]) -> None:
    """The SDK's retry of an applied order transaction fails its conditions; that is this very
    checkout's write (main voided the payment and answered 409 `cart_conflict`, leaving the
    cart checking out a PENDING order without a payment)."""
    shop, proxy = slow_shop
    shopper, headers = _cart(shop)
    proxy.slow("TransactWriteItems", 1)
    answer = requests.post(f"{shop.storefront}/v1/carts/{shopper}/checkout", headers=headers,
                           timeout=T)
    assert answer.status_code == 202, answer.text
    order_id = answer.json()["order_id"]
    assert [o["OrderId"] for o in _orders_of(shop, shopper)] == [order_id]
    assert [p["Status"] for p in _payments_of(shop, order_id)] == ["AUTHORIZED"]


def test_a_payments_answer_lost_cancels_the_order_it_belongs_to(shop: Shop) -> None:
    """Payments authorises but its answer comes after the storefront's timeout: the payment
    belongs to an order, cancelled, so the saga voids it (on main the authorisation had no
    order at all and stayed AUTHORIZED forever); the cart is free again; a retry with the same
    key is a new attempt, not the cancelled order."""
    shopper, headers = _cart(shop)
    url = f"{shop.storefront}/v1/carts/{shopper}/checkout"
    keyed = {**headers, "Idempotency-Key": "late-1"}
    shop.payments_switch.set_mode("late")
    try:
        first = requests.post(url, headers=keyed, timeout=T)
    finally:
        shop.payments_switch.set_mode("ok")
    assert first.status_code == 503, first.text
    assert first.json()["error"]["code"] == "dependency_unavailable"
    [order] = _orders_of(shop, shopper)
    assert first.json()["order_id"] == order["OrderId"]
    assert (order["Status"], order["CancelReason"]) == ("CANCELLED", "CHECKOUT_FAILED")
    held = [p for p in _payments_of(shop, order["OrderId"]) if p["Status"] == "AUTHORIZED"]
    assert len(held) == 1  # what the saga's rollback voids
    cart = requests.get(f"{shop.storefront}/v1/carts/{shopper}", headers=headers, timeout=T)
    assert cart.json()["checking_out"] is False and cart.json()["item_count"] == 1

    again = requests.post(url, headers=keyed, timeout=T)
    assert again.status_code == 202, again.text
    assert again.json()["order_id"] != order["OrderId"]
