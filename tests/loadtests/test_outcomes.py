"""How answers are counted: expected conflicts and shedding are deliberate, the rest fails."""

from __future__ import annotations

import pytest

from loadtests.calls import path_of
from loadtests.counters import Counters, conflict_hook, counters_for
from loadtests.outcomes import (
    CART_ITEM,
    CART_ITEMS,
    CHECKOUT,
    PRODUCT,
    REVIEWS,
    SHOPPERS,
    Verdict,
    classify,
    occ_retries,
)

CONFLICT = {"error": {"code": "cart_conflict", "message": "x"}}


@pytest.mark.parametrize("method, route, status, headers, allow_stale, verdict", [
    ("POST", SHOPPERS, 201, {}, False, Verdict.OK),
    ("GET", PRODUCT, 200, {}, False, Verdict.OK),
    ("POST", "/v1/products/{sku}/likes", 200, {}, False, Verdict.OK),
    ("POST", "/v1/products/{sku}/likes", 201, {}, False, Verdict.OK),
    ("POST", CART_ITEMS, 409, {}, False, Verdict.CONFLICT),
    ("DELETE", CART_ITEM, 409, {}, False, Verdict.CONFLICT),
    ("POST", CHECKOUT, 409, {}, False, Verdict.CONFLICT),
    ("POST", CHECKOUT, 202, {}, False, Verdict.OK),
    ("POST", CHECKOUT, 200, {}, False, Verdict.FAIL),
    ("GET", PRODUCT, 409, {}, False, Verdict.FAIL),  # 409 where no write happens: a bug
    ("POST", CHECKOUT, 503, {"Retry-After": "2"}, False, Verdict.SHED),
    ("POST", REVIEWS, 503, {"retry-after": "1"}, False, Verdict.SHED),
    ("POST", CHECKOUT, 503, {}, False, Verdict.FAIL),  # no Retry-After: not a designed shed
    ("DELETE", CART_ITEM, 404, {}, True, Verdict.STALE),
    ("DELETE", CART_ITEM, 404, {}, False, Verdict.FAIL),
    ("GET", PRODUCT, 404, {}, False, Verdict.FAIL),
    ("GET", PRODUCT, 500, {}, False, Verdict.FAIL),
    ("GET", PRODUCT, 0, {}, False, Verdict.FAIL),
    ("GET", "/v1/unknown", 200, {}, False, Verdict.FAIL),
])
def test_classify(method: str, route: str, status: int, headers: dict, allow_stale: bool,
                  verdict: Verdict) -> None:
    assert classify(method, route, status, headers, CONFLICT,
                    allow_stale=allow_stale).verdict is verdict


def test_shed_can_count_as_failure() -> None:
    outcome = classify("POST", CHECKOUT, 503, {"Retry-After": "1"}, shed_is_failure=True)
    assert outcome.verdict is Verdict.FAIL and "Retry-After" in outcome.reason


def test_reasons_name_status_and_error_code() -> None:
    outcome = classify("GET", PRODUCT, 404, {}, {"error": {"code": "product_not_found"}})
    assert outcome.reason == "unexpected 404 (product_not_found), expected 200"
    conflict = classify("POST", CART_ITEMS, 409, {"X-OCC-Retries": "3"},
                        {"error": {"code": "cart_conflict"}})
    assert conflict.code == "cart_conflict" and conflict.occ_retries == 3


def test_occ_retries_header() -> None:
    assert occ_retries({"X-OCC-Retries": "2"}) == 2
    assert occ_retries({"x-occ-retries": "4"}) == 4
    assert occ_retries({"X-Occ-Retries": "1"}) == 1
    assert occ_retries({}) == 0 and occ_retries(None) == 0
    assert occ_retries({"X-OCC-Retries": "many"}) == 0
    ok = classify("POST", CART_ITEMS, 200, {"X-OCC-Retries": "2"})
    assert ok.verdict is Verdict.OK and ok.occ_retries == 2


def test_path_of_fills_templates_and_quotes() -> None:
    assert path_of(PRODUCT, sku="SKU-00001") == "/v1/products/SKU-00001"
    assert path_of(CART_ITEM, {"qty": 1}, cart_id="a/b", sku="S") == \
        "/v1/carts/a%2Fb/items/S?qty=1"
    assert path_of("/v1/products?q={q}", {"q": "red tea", "limit": 5}) == \
        "/v1/products?q=red+tea&limit=5"


def test_conflict_event_feeds_counters() -> None:
    from locust.env import Environment

    environment = Environment()
    hook = conflict_hook(environment)
    assert environment.events.cart_conflict is hook
    seen = []
    hook.add_listener(lambda **kw: seen.append(kw))
    hook.fire(user=None, route=CART_ITEMS, kind="http_409", count=1, status=409,
              code="cart_conflict")
    hook.fire(user=None, route=CART_ITEMS, kind="occ_retry", count=3, status=200, code="")
    counters = counters_for(environment)
    assert counters.conflicts() == {"total": 4, "http_409": 1, "occ_retries": 3}
    assert counters.snapshot()["conflicts.http_409_by_code"]["by_route"] == {"cart_conflict": 1}
    assert len(seen) == 2
    assert conflict_hook(environment) is hook  # installed once


def test_counters_merge_and_reset() -> None:
    a, b = Counters(), Counters()
    a.add("shed.http_503", "/x", 2)
    b.merge(a.raw())
    b.merge(a.raw())
    assert b.total("shed.http_503") == 4
    b.reset()
    assert b.snapshot() == {}


def test_outcome_unknown_is_counted_apart_from_shedding() -> None:
    body = {"error": {"code": "outcome_unknown"}, "order_id": "ord-1"}
    unknown = classify("POST", CHECKOUT, 503, {"Retry-After": "1"}, body)
    assert unknown.verdict is Verdict.UNKNOWN and not unknown.counts_as_failure
    assert unknown.code == "outcome_unknown"
    shed = classify("POST", CHECKOUT, 503, {"Retry-After": "1"},
                    {"error": {"code": "dependency_unavailable"}})
    assert shed.verdict is Verdict.SHED  # the control: a real shed stays a shed
    assert classify("POST", CHECKOUT, 503, {}, body).counts_as_failure  # no Retry-After
