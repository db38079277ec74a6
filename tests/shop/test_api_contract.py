"""What issue 12 found at the services' HTTP surface (items 5 and 6): the API answers as its
OpenAPI documents say, a lost race is never a 500, and DynamoDB failing is a 503 that says
whether a write may have happened."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from reference_app.config import Settings
from tests.shop.conftest import Shop, SlowAnswers, running_shop, serving

pytestmark = pytest.mark.integration
T = 30


def _error(response: requests.Response, status: int, code: str,
           field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    if field is not None:
        assert body["error"].get("field") == field, body
    return body


# -- item 6: the API and its OpenAPI documents agree --------------------------------------------
def test_null_is_not_a_value_of_any_request_field(shop: Shop) -> None:
    _error(requests.post(f"{shop.storefront}/v1/shoppers", json={"name": None}, timeout=T),
           400, "invalid_value", "name")
    admin = shop.auth("boss", "admin")
    url = f"{shop.storefront}/v1/admin/products/SKU-00021"
    before = requests.get(f"{shop.storefront}/v1/products/SKU-00021", timeout=T).json()
    _error(requests.put(url, json={"qty": None}, headers=admin, timeout=T),
           400, "invalid_value", "qty")
    _error(requests.put(url, json={"price_cents": None, "qty": 7}, headers=admin, timeout=T),
           400, "invalid_value", "price_cents")
    after = requests.get(f"{shop.storefront}/v1/products/SKU-00021", timeout=T).json()
    assert after["qty_available"] == before["qty_available"]  # nothing written


def test_review_text_length_is_judged_by_the_schema_not_the_body_size(shop: Shop) -> None:
    """The documents say `text` is 1..2000 characters: 2001 or 20 000 characters are 400, and
    2000 characters are stored even when each is sent as a 12-byte JSON escape (requests sends
    ASCII-only JSON), for the storefront and for the reviews service it forwards to."""
    _, headers = shop.new_shopper()
    url = f"{shop.storefront}/v1/products/SKU-00022/reviews"
    for text in ("x" * 2001, "x" * 20_000):
        _error(requests.post(url, json={"rating": 4, "text": text}, headers=headers, timeout=T),
               400, "invalid_value", "text")
    longest = "\U0001F600" * 2000  # 24 000 bytes as JSON escapes
    stored = requests.post(url, json={"rating": 4, "text": longest}, headers=headers, timeout=T)
    assert stored.status_code == 201, stored.text
    assert stored.json()["review"]["text"] == longest

    service = shop.auth("storefront-test", "service")
    direct = f"{shop.reviews}/v1/products/SKU-00022/reviews"
    _error(requests.post(direct, json={"shopper_id": "shp-1", "rating": 4, "text": "x" * 20_000},
                         headers=service, timeout=T), 400, "invalid_value", "text")


def test_reviews_and_likes_need_a_product_of_the_catalog(shop: Shop) -> None:
    service = shop.auth("storefront-test", "service")
    base = f"{shop.reviews}/v1/products/NOPE-123"
    _error(requests.post(f"{base}/reviews", json={"shopper_id": "shp-1", "rating": 5,
                                                  "text": "nice"}, headers=service, timeout=T),
           404, "product_not_found", "sku")
    _error(requests.post(f"{base}/likes", json={"shopper_id": "shp-1"}, headers=service,
                         timeout=T), 404, "product_not_found", "sku")
    assert requests.get(f"{base}/counts", headers=service, timeout=T).json() == \
        {"sku": "NOPE-123", "reviews": 0, "likes": 0}  # nothing was counted
    _, headers = shop.new_shopper()
    _error(requests.post(f"{shop.storefront}/v1/products/NOPE-123/likes", headers=headers,
                         timeout=T), 404, "product_not_found")


def test_payments_allow_header_lists_only_documented_methods(shop: Shop) -> None:
    service = shop.auth("t", "service")
    for method in ("GET", "PUT", "DELETE"):
        answer = requests.request(method, f"{shop.payments}/v1/payments/authorize",
                                  headers=service, timeout=T)
        _error(answer, 405, "method_not_allowed")
        assert set(answer.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    _error(requests.post(f"{shop.payments}/v1/payments/authorize", headers=service, timeout=T,
                         json={"idempotency_key": "authorize", "order_id": "o",
                               "amount_cents": 1}), 400, "invalid_value", "idempotency_key")


# -- item 5: never a 500 --------------------------------------------------------------------------
@contextmanager
def shop_behind(proxy: SlowAnswers, settings: Settings) -> Iterator[Shop]:
    with serving(proxy) as url:
        with running_shop(dataclasses.replace(settings, aws_endpoint_url=url)) as running:
            yield running


@pytest.fixture(scope="module")
def slow_shop(base_settings: Settings) -> Iterator[tuple[Shop, SlowAnswers]]:
    proxy = SlowAnswers(base_settings.aws_endpoint_url or "")
    with shop_behind(proxy, base_settings) as running:
        yield running, proxy


def test_a_review_whose_first_answer_was_lost_is_stored_once(
        slow_shop: tuple[Shop, SlowAnswers]) -> None:
    """The SDK retries a TransactWriteItems whose answer timed out; the retry fails the Put's
    attribute_not_exists(ItemId) because the first attempt was applied. That is success (was a
    500 `TransactionCanceledException [ConditionalCheckFailed]`)."""
    shop, proxy = slow_shop
    service = shop.auth("storefront-test", "service")
    before = requests.get(f"{shop.reviews}/v1/products/SKU-00023/counts", headers=service,
                          timeout=T).json()
    proxy.slow("TransactWriteItems", 1)
    answer = requests.post(f"{shop.reviews}/v1/products/SKU-00023/reviews", headers=service,
                           json={"shopper_id": "shp-9", "rating": 5, "text": "twice?"},
                           timeout=T)
    assert proxy.held == 1
    assert answer.status_code == 201, answer.text
    assert answer.json()["counts"]["reviews"] == before["reviews"] + 1  # stored once


def test_dynamodb_timing_out_on_a_cart_write_is_a_503_saying_so(
        slow_shop: tuple[Shop, SlowAnswers]) -> None:
    """Every attempt of the cart's UpdateItem times out (the first was applied): 503
    `outcome_unknown` with Retry-After, not 500 — and the cart shows the write happened."""
    shop, proxy = slow_shop
    shopper, headers = shop.new_shopper()
    cart = f"{shop.storefront}/v1/carts/{shopper}"
    assert requests.post(f"{cart}/items", json={"sku": "SKU-00024", "qty": 1}, headers=headers,
                         timeout=T).status_code == 200
    proxy.slow("UpdateItem", 10)
    try:
        answer = requests.post(f"{cart}/items", json={"sku": "SKU-00025", "qty": 1},
                               headers=headers, timeout=T)
    finally:
        proxy.slow("UpdateItem", 0)
    _error(answer, 503, "outcome_unknown")
    assert int(answer.headers["Retry-After"]) >= 1
    items = requests.get(cart, headers=headers, timeout=T).json()["items"]
    assert {"sku": "SKU-00025", "qty": 1} in items  # it had been applied: the 503 said maybe


def test_dynamodb_unreachable_is_a_503_that_changed_nothing(base_settings: Settings) -> None:
    """Connection refused: 503 `dependency_unavailable` (was 500), for reads and writes."""
    from local_stack.ports import free_port

    down = dataclasses.replace(base_settings, aws_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with running_shop(down) as shop:
        headers = shop.auth(f"shp-{uuid.uuid4().hex}", "shopper")
        sku = f"UNCACHED-{uuid.uuid4().hex[:8]}"  # not in the product cache: read from DynamoDB
        read = requests.get(f"{shop.storefront}/v1/products/{sku}", timeout=T)
        _error(read, 503, "dependency_unavailable")
        cart = f"{shop.storefront}/v1/carts/{headers_subject(shop, headers)}"
        write = requests.post(f"{cart}/items", json={"sku": sku, "qty": 1}, headers=headers,
                              timeout=T)
        _error(write, 503, "dependency_unavailable")
        assert int(write.headers["Retry-After"]) >= 1


def headers_subject(shop: Shop, headers: dict[str, str]) -> str:
    from reference_app.tokens import verify_token

    token = headers["Authorization"].removeprefix("Bearer ")
    return verify_token(token, secret=shop.settings.token_secret).subject
