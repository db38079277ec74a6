"""The payments breaker end to end: with payments hung, checkout fails slowly fail_max times,
then fast with 503 + Retry-After on every replica; after payments recovers and the reset
timeout passes, it closes again. With the breaker disabled (negative control) every call keeps
paying the full timeout."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable

import pytest
import requests

from reference_app.config import Settings
from reference_app.storefront.app import create_app as storefront_app
from tests.shop.conftest import Shop, running_shop, serving, wait_for

pytestmark = pytest.mark.integration
TIMEOUT_S = 1.5
FAIL_MAX = 3
RESET_S = 1.5


def _settings(base: Settings, redis_url: str, enabled: bool) -> Settings:
    return dataclasses.replace(base, redis_url=redis_url, breaker_enabled=enabled,
                               breaker_fail_max=FAIL_MAX, breaker_reset_timeout_s=RESET_S,
                               dependency_timeout_s=TIMEOUT_S)


def _cart_with_item(shop: Shop) -> tuple[str, dict[str, str]]:
    sid, headers = shop.new_shopper()
    response = requests.post(f"{shop.storefront}/v1/carts/{sid}/items",
                             json={"sku": "SKU-00020", "qty": 1}, headers=headers, timeout=10)
    assert response.status_code == 200
    return sid, headers


def _checkout(base_url: str, sid: str, headers: dict[str, str]) -> tuple[requests.Response,
                                                                            float]:
    t0 = time.perf_counter()
    response = requests.post(f"{base_url}/v1/carts/{sid}/checkout", headers=headers, timeout=30)
    return response, time.perf_counter() - t0


def _unavailable(response: requests.Response) -> int:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "dependency_unavailable"
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


def _breaker(shop: Shop, base_url: str | None = None) -> dict:
    response = requests.get(f"{base_url or shop.storefront}/v1/admin/breakers",
                            headers=shop.auth("boss", "admin"), timeout=10)
    return response.json()["breakers"]["payments"]


def test_breaker_opens_rejects_fast_everywhere_and_closes(
        base_settings: Settings, fresh_redis_db: Callable[[int], str]) -> None:
    settings = _settings(base_settings, fresh_redis_db(5), enabled=True)
    with running_shop(settings) as shop, contextlib.ExitStack() as replica_stack:
        sid, headers = _cart_with_item(shop)
        cart_url = f"{shop.storefront}/v1/carts/{sid}"
        cart_before = requests.get(cart_url, headers=headers, timeout=10).json()
        # another replica, which will never see a failure, started and warmed (clients,
        # connections) before the breaker opens: set up after it, on a machine other tests
        # load, it took longer than the reset timeout, and met a half-open breaker
        replica_settings = dataclasses.replace(shop.settings, replica_id="2")
        replica = storefront_app(replica_settings)
        replica_stack.callback(replica.extensions["shop.storefront"].close)
        replica_url = replica_stack.enter_context(serving(replica))
        assert requests.get(f"{replica_url}/v1/carts/{sid}", headers=headers,
                            timeout=10).status_code == 200
        shop.payments_switch.set_mode("hang")

        for _ in range(FAIL_MAX):  # each waits for the timeout, then fails
            response, elapsed = _checkout(shop.storefront, sid, headers)
            _unavailable(response)
            assert elapsed >= TIMEOUT_S * 0.9
        tried = shop.payments_switch.requests
        assert tried == FAIL_MAX
        assert _breaker(shop)["state"] == "open"

        response, elapsed = _checkout(shop.storefront, sid, headers)
        retry_after = _unavailable(response)
        assert elapsed < TIMEOUT_S / 3
        assert retry_after <= RESET_S + 1
        assert shop.payments_switch.requests == tried  # not even tried

        # the other replica rejects fast too (shared state in Redis)
        response, elapsed = _checkout(replica_url, sid, headers)
        _unavailable(response)
        assert elapsed < TIMEOUT_S / 3
        assert shop.payments_switch.requests == tried
        assert _breaker(shop, replica_url)["state"] == "open"
        replica_stack.close()

        cart_after = requests.get(cart_url, headers=headers, timeout=10).json()
        assert (cart_after["items"], cart_after["checking_out"]) == \
            (cart_before["items"], False)  # each failed checkout ended, the items kept

        # payments recovers; after the reset timeout the trial call closes the breaker
        shop.payments_switch.set_mode("ok")
        wait_for(lambda: _breaker(shop)["seconds_until_half_open"] == 0, RESET_S + 2,
                 "the reset timeout to pass")
        response, _ = _checkout(shop.storefront, sid, headers)
        assert response.status_code == 202, response.text
        assert _breaker(shop)["state"] == "closed"
        assert _breaker(shop)["fail_counter"] == 0

        metrics = requests.get(f"{shop.storefront}/metrics", timeout=10).text
        for move in ('from_state="closed",to_state="open"',
                     'from_state="open",to_state="half_open"',
                     'from_state="half_open",to_state="closed"'):
            assert move in metrics, move
        assert 'shop_circuit_breaker_rejected_total{dependency="payments"}' in metrics


def test_disabled_breaker_keeps_paying_the_timeout(
        base_settings: Settings, fresh_redis_db: Callable[[int], str]) -> None:
    settings = _settings(base_settings, fresh_redis_db(6), enabled=False)
    with running_shop(settings) as shop:
        sid, headers = _cart_with_item(shop)
        shop.payments_switch.set_mode("hang")
        calls = FAIL_MAX + 2
        for _ in range(calls):
            response, elapsed = _checkout(shop.storefront, sid, headers)
            _unavailable(response)
            assert elapsed >= TIMEOUT_S * 0.9  # never short-circuited
        assert shop.payments_switch.requests == calls
        info = _breaker(shop)
        assert info["enabled"] is False and info["state"] == "closed"
        shop.payments_switch.set_mode("ok")
        response, _ = _checkout(shop.storefront, sid, headers)
        assert response.status_code == 202
