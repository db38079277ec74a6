"""The storefront over HTTP against moto + Redis + the real payments and reviews apps:
catalog, carts, ownership, every bad-input case of docs/shop.md, checkout, admin."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from prometheus_client import REGISTRY

from tests.shop.conftest import Shop

pytestmark = pytest.mark.integration
T = 10  # request timeout


def _error(response: requests.Response, status: int, code: str,
           field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert body["correlation_id"] == response.headers["X-Correlation-ID"]
    if field is not None:
        assert body["error"].get("field") == field, body
    return body


def _cart(shop: Shop, sid: str, headers: dict[str, str]) -> dict[str, Any]:
    response = requests.get(f"{shop.storefront}/v1/carts/{sid}", headers=headers, timeout=T)
    assert response.status_code == 200, response.text
    return response.json()


# -- shoppers and catalog ---------------------------------------------------------------------
def test_shopper_registration(shop: Shop) -> None:
    response = requests.post(f"{shop.storefront}/v1/shoppers", json={"name": "Ada"}, timeout=T)
    assert response.status_code == 201
    assert response.json()["shopper_id"].startswith("shp-") and response.json()["token"]
    _error(requests.post(f"{shop.storefront}/v1/shoppers", json={"nick": "x"}, timeout=T),
           400, "unknown_field", "nick")
    _error(requests.post(f"{shop.storefront}/v1/shoppers", json={"name": 5}, timeout=T),
           400, "invalid_value", "name")


def test_product_detail(shop: Shop) -> None:
    response = requests.get(f"{shop.storefront}/v1/products/SKU-00004", timeout=T)
    assert response.status_code == 200
    body = response.json()
    assert body["sku"] == "SKU-00004" and body["name"] and body["price_cents"] > 0
    assert isinstance(body["reviews"], int) and isinstance(body["likes"], int)
    assert body["counts_stale"] is False
    _error(requests.get(f"{shop.storefront}/v1/products/SKU-99999", timeout=T),
           404, "product_not_found")
    _error(requests.get(f"{shop.storefront}/v1/products/bad%20sku", timeout=T),
           400, "invalid_value", "sku")


def test_search(shop: Shop) -> None:
    product = requests.get(f"{shop.storefront}/v1/products/SKU-00007", timeout=T).json()
    word = product["keywords"][0]
    response = requests.get(f"{shop.storefront}/v1/products",
                            params={"q": word.upper(), "limit": 50}, timeout=T)
    assert response.status_code == 200
    body = response.json()
    assert "SKU-00007" in [item["sku"] for item in body["items"]]
    assert body["count"] == len(body["items"])
    two_words = " ".join(product["keywords"][:2])
    narrowed = requests.get(f"{shop.storefront}/v1/products", params={"q": two_words},
                            timeout=T).json()
    assert "SKU-00007" in [item["sku"] for item in narrowed["items"]]
    assert requests.get(f"{shop.storefront}/v1/products", params={"q": "zzzqqq"},
                        timeout=T).json() == {"items": [], "count": 0, "total": 0}
    limited = requests.get(f"{shop.storefront}/v1/products", params={"q": word, "limit": 1},
                           timeout=T).json()
    assert limited["count"] <= 1
    _error(requests.get(f"{shop.storefront}/v1/products", timeout=T), 400, "missing_field", "q")
    _error(requests.get(f"{shop.storefront}/v1/products", params={"q": "a;b"}, timeout=T),
           400, "invalid_value", "q")
    for limit in ("0", "51", "x"):
        _error(requests.get(f"{shop.storefront}/v1/products", params={"q": word, "limit": limit},
                            timeout=T), 400, "invalid_value", "limit")


def test_weekly_products(shop: Shop) -> None:
    body = requests.get(f"{shop.storefront}/v1/weekly-products", timeout=T).json()
    assert body["week"].count("-W") == 1
    assert 1 <= len(body["items"]) <= 20
    for item in body["items"]:
        assert item["sale_price_cents"] < item["price_cents"]


# -- carts --------------------------------------------------------------------------------------
def test_cart_flow_and_occ_header(shop: Shop) -> None:
    sid, headers = shop.new_shopper()
    assert _cart(shop, sid, headers) | {"updated_at": None} == {
        "cart_id": sid, "version": 0, "checking_out": False, "order_id": None, "items": [],
        "item_count": 0, "updated_at": None}
    url = f"{shop.storefront}/v1/carts/{sid}/items"
    added = requests.post(url, json={"sku": "SKU-00001", "qty": 2}, headers=headers, timeout=T)
    assert added.status_code == 200 and added.headers["X-OCC-Retries"] == "0"
    requests.post(url, json={"sku": "SKU-00002", "qty": 1}, headers=headers, timeout=T)
    requests.post(url, json={"sku": "SKU-00001", "qty": 1}, headers=headers, timeout=T)
    cart = _cart(shop, sid, headers)
    assert cart["items"] == [{"sku": "SKU-00001", "qty": 3}, {"sku": "SKU-00002", "qty": 1}]
    assert cart["version"] == 3
    partly = requests.delete(f"{url}/SKU-00001", params={"qty": 2}, headers=headers, timeout=T)
    assert partly.status_code == 200 and partly.headers["X-OCC-Retries"] == "0"
    assert partly.json()["items"][0] == {"sku": "SKU-00001", "qty": 1}
    gone = requests.delete(f"{url}/SKU-00002", headers=headers, timeout=T).json()
    assert gone["items"] == [{"sku": "SKU-00001", "qty": 1}] and gone["version"] == 5


def test_cart_is_owner_only(shop: Shop) -> None:
    owner, owner_headers = shop.new_shopper()
    _, other_headers = shop.new_shopper()
    requests.post(f"{shop.storefront}/v1/carts/{owner}/items",
                  json={"sku": "SKU-00001", "qty": 1}, headers=owner_headers, timeout=T)
    before = _cart(shop, owner, owner_headers)
    cart_url = f"{shop.storefront}/v1/carts/{owner}"
    _error(requests.get(cart_url, headers=other_headers, timeout=T), 403, "forbidden")
    _error(requests.post(f"{cart_url}/items", json={"sku": "SKU-00002", "qty": 1},
                         headers=other_headers, timeout=T), 403, "forbidden")
    _error(requests.delete(f"{cart_url}/items/SKU-00001", headers=other_headers, timeout=T),
           403, "forbidden")
    _error(requests.post(f"{cart_url}/checkout", headers=other_headers, timeout=T),
           403, "forbidden")
    _error(requests.get(cart_url, headers=shop.auth(owner, "admin"), timeout=T), 403, "forbidden")
    _error(requests.get(cart_url, timeout=T), 401, "unauthorized")
    _error(requests.get(cart_url, headers={"Authorization": "Bearer nonsense"}, timeout=T),
           401, "token_invalid")
    _error(requests.get(cart_url, headers={"Authorization": "Basic abc"}, timeout=T),
           401, "unauthorized")
    assert _cart(shop, owner, owner_headers) == before


BAD_ADDS: list[tuple[str, Any, str | None, int, str, str | None]] = [
    # (case, json body or raw bytes, content type, status, code, field)
    ("qty as string", {"sku": "SKU-00003", "qty": "2"}, None, 400, "invalid_value", "qty"),
    ("qty as float", {"sku": "SKU-00003", "qty": 2.5}, None, 400, "invalid_value", "qty"),
    ("qty as bool", {"sku": "SKU-00003", "qty": True}, None, 400, "invalid_value", "qty"),
    ("qty zero", {"sku": "SKU-00003", "qty": 0}, None, 400, "invalid_value", "qty"),
    ("qty negative", {"sku": "SKU-00003", "qty": -1}, None, 400, "invalid_value", "qty"),
    ("qty over max", {"sku": "SKU-00003", "qty": 100}, None, 400, "invalid_value", "qty"),
    ("qty missing", {"sku": "SKU-00003"}, None, 400, "missing_field", "qty"),
    ("sku missing", {"qty": 1}, None, 400, "missing_field", "sku"),
    ("unknown field", {"sku": "SKU-00003", "qty": 1, "price_cents": 1}, None, 400,
     "unknown_field", "price_cents"),
    ("bad sku", {"sku": "../../etc", "qty": 1}, None, 400, "invalid_value", "sku"),
    ("unknown sku", {"sku": "SKU-99999", "qty": 1}, None, 404, "product_not_found", "sku"),
    ("malformed json", b'{"sku": "SKU-00003", "qty": ', "application/json", 400,
     "malformed_json", None),
    ("json array", b'[{"sku": "SKU-00003", "qty": 1}]', "application/json", 400,
     "malformed_json", None),
    ("not json", b"sku=SKU-00003&qty=1", "application/x-www-form-urlencoded", 415,
     "unsupported_media_type", None),
    ("empty body", b"", "application/json", 400, "body_required", None),
    ("too large", b'{"sku": "' + b"x" * 70000 + b'", "qty": 1}', "application/json", 413,
     "body_too_large", None),
    ("too many of one item", {"sku": "SKU-00001", "qty": 99}, None, 409,
     "cart_limit_exceeded", "qty"),
]


@pytest.mark.parametrize("case, body, content_type, status, code, field", BAD_ADDS,
                         ids=[case[0] for case in BAD_ADDS])
def test_bad_adds_are_refused_and_write_nothing(shop: Shop, case: str, body: Any,
                                                content_type: str | None, status: int,
                                                code: str, field: str | None) -> None:
    sid, headers = shop.new_shopper()
    url = f"{shop.storefront}/v1/carts/{sid}/items"
    requests.post(url, json={"sku": "SKU-00001", "qty": 1}, headers=headers, timeout=T)
    before = _cart(shop, sid, headers)
    if isinstance(body, bytes):
        response = requests.post(url, data=body, timeout=T,
                                 headers={**headers, "Content-Type": content_type or ""})
    else:
        response = requests.post(url, json=body, headers=headers, timeout=T)
    _error(response, status, code, field)
    assert _cart(shop, sid, headers) == before, case


def test_bad_removes_are_refused_and_write_nothing(shop: Shop) -> None:
    sid, headers = shop.new_shopper()
    url = f"{shop.storefront}/v1/carts/{sid}/items"
    _error(requests.delete(f"{url}/SKU-00001", headers=headers, timeout=T), 404, "cart_not_found")
    requests.post(url, json={"sku": "SKU-00001", "qty": 2}, headers=headers, timeout=T)
    before = _cart(shop, sid, headers)
    for qty in ("0", "abc", "-1", "100", "1.5"):
        _error(requests.delete(f"{url}/SKU-00001", params={"qty": qty}, headers=headers,
                               timeout=T), 400, "invalid_value", "qty")
    _error(requests.delete(f"{url}/SKU-00002", headers=headers, timeout=T),
           404, "item_not_in_cart", "sku")
    _error(requests.delete(f"{url}/bad%20sku", headers=headers, timeout=T),
           400, "invalid_value", "sku")
    assert _cart(shop, sid, headers) == before


def test_unknown_routes_and_methods_are_json(shop: Shop) -> None:
    _error(requests.get(f"{shop.storefront}/v1/nothing", timeout=T), 404, "not_found")
    _error(requests.put(f"{shop.storefront}/v1/weekly-products", timeout=T),
           405, "method_not_allowed")


# -- checkout and orders ------------------------------------------------------------------------
def test_checkout_places_an_order_only_its_owner_can_read(shop: Shop) -> None:
    sid, headers = shop.new_shopper()
    _, stranger = shop.new_shopper()
    _error(requests.post(f"{shop.storefront}/v1/carts/{sid}/checkout", headers=headers,
                         timeout=T), 409, "cart_empty")
    requests.post(f"{shop.storefront}/v1/carts/{sid}/items", json={"sku": "SKU-00010", "qty": 2},
                  headers=headers, timeout=T)
    placed_before = REGISTRY.get_sample_value("shop_orders_total", {"status": "placed"}) or 0
    response = requests.post(f"{shop.storefront}/v1/carts/{sid}/checkout",
                             headers={**headers, "X-Correlation-ID": "checkout-corr-1"},
                             timeout=T)
    assert response.status_code == 202, response.text
    order_id = response.json()["order_id"]
    assert response.json()["status"] == "PENDING"
    assert response.headers["Location"] == f"/v1/orders/{order_id}"
    assert REGISTRY.get_sample_value("shop_orders_total", {"status": "placed"}) == \
        placed_before + 1

    order = requests.get(f"{shop.storefront}/v1/orders/{order_id}", headers=headers, timeout=T)
    assert order.status_code == 200
    body = order.json()
    assert body["status"] == "PENDING" and body["items"][0]["sku"] == "SKU-00010"
    assert body["amount_cents"] == sum(i["qty"] * i["price_cents"] for i in body["items"])
    _error(requests.get(f"{shop.storefront}/v1/orders/{order_id}", headers=stranger, timeout=T),
           404, "order_not_found")
    _error(requests.get(f"{shop.storefront}/v1/orders/ord-unknown", headers=headers, timeout=T),
           404, "order_not_found")
    _error(requests.get(f"{shop.storefront}/v1/orders/{order_id}", timeout=T),
           401, "unauthorized")

    # the payment was authorised once, under the order id, with the order's amount
    payment = requests.get(f"{shop.payments}/v1/payments/{order_id}",
                           headers=shop.auth("test", "service"), timeout=T).json()
    assert (payment["status"], payment["amount_cents"]) == ("AUTHORIZED", body["amount_cents"])

    # the cart is now being checked out: no more writes, no second checkout
    cart = _cart(shop, sid, headers)
    assert cart["checking_out"] and cart["order_id"] == order_id
    _error(requests.post(f"{shop.storefront}/v1/carts/{sid}/items",
                         json={"sku": "SKU-00011", "qty": 1}, headers=headers, timeout=T),
           409, "cart_checking_out")
    _error(requests.post(f"{shop.storefront}/v1/carts/{sid}/checkout", headers=headers,
                         timeout=T), 409, "cart_checking_out")
    assert _cart(shop, sid, headers) == cart

    # the order row keeps the correlation id and the cart version
    row = shop.storefront_app.extensions["shop.storefront"].orders.get(order_id)
    assert row["CorrelationId"] == "checkout-corr-1"
    assert row["CartVersion"] == cart["version"] and row["PaymentKey"] == order_id


def test_checkout_with_a_body_is_validated(shop: Shop) -> None:
    sid, headers = shop.new_shopper()
    requests.post(f"{shop.storefront}/v1/carts/{sid}/items", json={"sku": "SKU-00010", "qty": 1},
                  headers=headers, timeout=T)
    _error(requests.post(f"{shop.storefront}/v1/carts/{sid}/checkout", json={"coupon": "X"},
                         headers=headers, timeout=T), 400, "unknown_field", "coupon")
    assert not _cart(shop, sid, headers)["checking_out"]


# -- reviews and likes --------------------------------------------------------------------------
def test_reviews_and_likes_update_the_counts(shop: Shop) -> None:
    sid, headers = shop.new_shopper()
    sku_url = f"{shop.storefront}/v1/products/SKU-00012"
    before = requests.get(sku_url, timeout=T).json()  # also fills the cache
    review = requests.post(f"{sku_url}/reviews", json={"rating": 4, "text": "solid"},
                           headers=headers, timeout=T)
    assert review.status_code == 201, review.text
    assert review.json()["counts"]["reviews"] == before["reviews"] + 1
    liked = requests.post(f"{sku_url}/likes", headers=headers, timeout=T)
    again = requests.post(f"{sku_url}/likes", headers=headers, timeout=T)
    assert (liked.status_code, again.status_code) == (201, 200)
    assert again.json()["counts"]["likes"] == before["likes"] + 1
    after = requests.get(sku_url, timeout=T).json()  # the cached counts were invalidated
    assert (after["reviews"], after["likes"]) == (before["reviews"] + 1, before["likes"] + 1)
    assert after["counts_stale"] is False


def test_bad_reviews_are_refused(shop: Shop) -> None:
    _, headers = shop.new_shopper()
    url = f"{shop.storefront}/v1/products/SKU-00012/reviews"
    before = requests.get(f"{shop.storefront}/v1/products/SKU-00012", timeout=T).json()
    _error(requests.post(url, json={"rating": 6, "text": "x"}, headers=headers, timeout=T),
           400, "invalid_value", "rating")
    _error(requests.post(url, json={"rating": 3, "text": " "}, headers=headers, timeout=T),
           400, "invalid_value", "text")
    _error(requests.post(url, json={"rating": 3, "text": "x", "stars": 1}, headers=headers,
                         timeout=T), 400, "unknown_field", "stars")
    _error(requests.post(url, json={"rating": 3, "text": "x"}, timeout=T), 401, "unauthorized")
    _error(requests.post(f"{shop.storefront}/v1/products/SKU-99999/reviews",
                         json={"rating": 3, "text": "x"}, headers=headers, timeout=T),
           404, "product_not_found")
    _error(requests.post(f"{shop.storefront}/v1/products/SKU-00012/likes", json={"x": 1},
                         headers=headers, timeout=T), 400, "unknown_field", "x")
    after = requests.get(f"{shop.storefront}/v1/products/SKU-00012", timeout=T).json()
    assert (after["reviews"], after["likes"]) == (before["reviews"], before["likes"])


# -- admin --------------------------------------------------------------------------------------
def test_admin_product_update_invalidates_the_cache(shop: Shop) -> None:
    url = f"{shop.storefront}/v1/admin/products/SKU-00013"
    admin = shop.auth("boss", "admin")
    detail_url = f"{shop.storefront}/v1/products/SKU-00013"
    old = requests.get(detail_url, timeout=T).json()  # cached now
    word = old["keywords"][0]
    requests.get(f"{shop.storefront}/v1/products", params={"q": word, "limit": 50}, timeout=T)
    _, shopper = shop.new_shopper()
    _error(requests.put(url, json={"price_cents": 1234}, timeout=T), 401, "unauthorized")
    _error(requests.put(url, json={"price_cents": 1234}, headers=shopper, timeout=T),
           403, "forbidden")
    _error(requests.put(url, json={}, headers=admin, timeout=T), 400, "invalid_value")
    _error(requests.put(url, json={"price_cents": "1234"}, headers=admin, timeout=T),
           400, "invalid_value", "price_cents")
    _error(requests.put(url, json={"qty": -1}, headers=admin, timeout=T),
           400, "invalid_value", "qty")
    _error(requests.put(f"{shop.storefront}/v1/admin/products/SKU-99999",
                        json={"qty": 5}, headers=admin, timeout=T), 404, "product_not_found")
    assert requests.get(detail_url, timeout=T).json()["price_cents"] == old["price_cents"]

    new_price = old["price_cents"] + 111
    response = requests.put(url, json={"price_cents": new_price, "qty": 500}, headers=admin,
                            timeout=T)
    assert response.status_code == 200, response.text
    assert (response.json()["price_cents"], response.json()["qty_available"]) == (new_price, 500)
    fresh = requests.get(detail_url, timeout=T).json()
    assert (fresh["price_cents"], fresh["qty_available"]) == (new_price, 500)
    found = requests.get(f"{shop.storefront}/v1/products", params={"q": word, "limit": 50},
                         timeout=T).json()
    assert [i["price_cents"] for i in found["items"] if i["sku"] == "SKU-00013"] == [new_price]


def test_admin_breakers(shop: Shop) -> None:
    url = f"{shop.storefront}/v1/admin/breakers"
    _error(requests.get(url, timeout=T), 401, "unauthorized")
    _, shopper = shop.new_shopper()
    _error(requests.get(url, headers=shopper, timeout=T), 403, "forbidden")
    body = requests.get(url, headers=shop.auth("boss", "admin"), timeout=T).json()
    assert set(body["breakers"]) == {"payments", "reviews"}
    assert body["breakers"]["payments"]["state"] in ("closed", "open", "half_open")


# -- observability ------------------------------------------------------------------------------
def test_metrics_expose_the_documented_names(shop: Shop) -> None:
    requests.get(f"{shop.storefront}/v1/products/SKU-00001", timeout=T)
    requests.get(f"{shop.storefront}/v1/no-such-route", timeout=T)
    text = requests.get(f"{shop.storefront}/metrics", timeout=T).text
    for name in ("shop_http_requests_total", "shop_http_request_duration_seconds_bucket",
                 "shop_circuit_breaker_state", "shop_cache_requests_total",
                 "shop_cart_occ_conflicts_total", "shop_orders_total",
                 "shop_payment_duration_seconds_bucket"):
        assert name in text, name
    assert 'route="/v1/products/<sku>"' in text and 'route="unmatched"' in text
    assert 'shop_circuit_breaker_state{dependency="payments",state="closed"}' in text


def test_correlation_id_round_trip(shop: Shop) -> None:
    response = requests.get(f"{shop.storefront}/health", headers={"X-Correlation-ID": "abc.1"},
                            timeout=T)
    assert response.headers["X-Correlation-ID"] == "abc.1"
    generated = requests.get(f"{shop.storefront}/health",
                             headers={"X-Correlation-ID": "bad id!"}, timeout=T)
    assert generated.headers["X-Correlation-ID"] not in ("bad id!", "")


def test_restock_keeps_stock_conservation(shop: Shop) -> None:
    """A restock moves InitialQty by as much as Qty, so InitialQty - Qty (sold) is unchanged."""
    import boto3

    sku = "SKU-00021"
    ddb = boto3.client("dynamodb", endpoint_url=shop.settings.aws_endpoint_url,
                       region_name="us-east-1")
    key = {"ProductId": {"S": sku}, "TranId": {"S": "0"}}

    def row() -> tuple[int, int]:
        item = ddb.get_item(TableName=shop.settings.tables.products, Key=key,
                            ConsistentRead=True)["Item"]
        return int(item["Qty"]["N"]), int(item["InitialQty"]["N"])

    # simulate 3 sold units, as the inventory handler would
    ddb.update_item(TableName=shop.settings.tables.products, Key=key,
                    UpdateExpression="SET Qty = Qty - :n", ExpressionAttributeValues={
                        ":n": {"N": "3"}})
    qty, initial = row()
    assert initial - qty == 3
    response = requests.put(f"{shop.storefront}/v1/admin/products/{sku}", json={"qty": 250},
                            headers=shop.auth("boss", "admin"), timeout=T)
    assert response.status_code == 200, response.text
    qty, initial = row()
    assert (qty, initial - qty) == (250, 3)
