"""Warm-up: the storefront serves a first request, then one order goes through the whole saga
(sign up, add to cart, checkout, stream consumers, settled). If that order cannot complete
there is no point breaking things on purpose: the game day stops and says where it got stuck.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from loadtests.status import normalize_breakers

log = logging.getLogger("gameday.run.warmup")


class WarmupFailed(RuntimeError):
    """The shop does not work well enough to run experiments on."""


def first_request(storefront: str, timeout_s: float = 30.0,
                  stop: threading.Event | None = None) -> float:
    """Wait for a 200 from a catalog route; the epoch time it was served."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        try:
            resp = requests.get(f"{storefront}/v1/products", params={"q": "a", "limit": 1},
                                timeout=3)
            if resp.status_code == 200:
                return time.time()
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise WarmupFailed(f"the storefront served no request within {timeout_s:.0f} s ({last})")


def _sku(storefront: str) -> str:
    resp = requests.get(f"{storefront}/v1/weekly-products", timeout=5)
    resp.raise_for_status()
    items = resp.json().get("items") or []
    for item in items:
        sku = item.get("sku") or item.get("ProductId") or item.get("product_id")
        if sku:
            return str(sku)
    resp = requests.get(f"{storefront}/v1/products", params={"q": "a", "limit": 5}, timeout=5)
    resp.raise_for_status()
    for item in resp.json().get("items") or []:
        sku = item.get("sku") or item.get("ProductId") or item.get("product_id")
        if sku:
            return str(sku)
    raise WarmupFailed("the catalog has no product to order")


def smoke_order(storefront: str, timeout_s: float = 60.0,
                stop: threading.Event | None = None) -> dict[str, Any]:
    """One order through the saga; {order_id, status, seconds}. WarmupFailed if it is not
    settled (COMPLETED, or CANCELLED by the saga) within timeout_s."""
    started = time.monotonic()
    resp = requests.post(f"{storefront}/v1/shoppers", json={"name": "gameday-warmup"}, timeout=5)
    if resp.status_code != 201:
        raise WarmupFailed(f"sign-up answered {resp.status_code}: {resp.text[:200]}")
    shopper = resp.json()
    headers = {"Authorization": f"Bearer {shopper['token']}"}
    cart = f"{storefront}/v1/carts/{shopper['shopper_id']}"
    sku = _sku(storefront)
    resp = requests.post(f"{cart}/items", json={"sku": sku, "qty": 1}, headers=headers,
                         timeout=10)
    if resp.status_code != 200:
        raise WarmupFailed(f"add to cart answered {resp.status_code}: {resp.text[:200]}")
    resp, attempts = _checkout(cart, headers, stop)
    if resp.status_code != 202:
        raise WarmupFailed(f"checkout answered {resp.status_code} ({attempts} attempt(s)): "
                           f"{resp.text[:200]}")
    order_id = resp.json()["order_id"]
    status = None
    deadline = started + timeout_s
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        resp = requests.get(f"{storefront}/v1/orders/{order_id}", headers=headers, timeout=5)
        if resp.status_code == 200:
            status = resp.json().get("status")
            if status in ("COMPLETED", "CANCELLED"):
                break
        time.sleep(0.25)
    seconds = round(time.monotonic() - started, 2)
    if status not in ("COMPLETED", "CANCELLED"):
        raise WarmupFailed(f"the warm-up order {order_id} is {status or 'unknown'} after "
                           f"{seconds:.0f} s, not settled: the saga does not work "
                           "(see the stream-runtime log in the report's stack/logs/)")
    log.info("warm-up order %s %s in %.1f s", order_id, status, seconds)
    return {"order_id": order_id, "sku": sku, "status": status, "seconds": seconds,
            "checkout_attempts": attempts}


CHECKOUT_ATTEMPTS = 3
MAX_RETRY_AFTER_S = 2.0


def _checkout(cart: str, headers: dict[str, str], stop: threading.Event | None
              ) -> tuple[requests.Response, int]:
    """Check the cart out as a client of the shop must: a 503 with Retry-After (a payments
    call that timed out on a cold replica of a busy machine: the order was withdrawn) is
    retried after it, with the Idempotency-Key the shop sent when it sent one, at most
    CHECKOUT_ATTEMPTS times. (The answer, the attempts made.)"""
    extra: dict[str, str] = {}
    for attempt in range(1, CHECKOUT_ATTEMPTS + 1):
        resp = requests.post(f"{cart}/checkout", json={}, headers={**headers, **extra},
                             timeout=10)
        retry_after = resp.headers.get("Retry-After")
        if resp.status_code != 503 or retry_after is None or attempt == CHECKOUT_ATTEMPTS:
            return resp, attempt
        log.warning("warm-up checkout answered 503 (attempt %d): %s; retrying", attempt,
                    resp.text[:200])
        key = resp.headers.get("Idempotency-Key")
        extra = {"Idempotency-Key": key} if key else {}
        try:
            wait = min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            wait = MAX_RETRY_AFTER_S
        if stop is not None and stop.wait(wait):
            return resp, attempt
        if stop is None:
            time.sleep(wait)
    raise AssertionError("unreachable")


def breaker_settings(storefront: str, admin_token: str) -> dict[str, Any]:
    """{dependency: {state, reset_timeout_s, fail_max, enabled}} from the admin endpoint
    ({} when it cannot be read)."""
    try:
        resp = requests.get(f"{storefront}/v1/admin/breakers", timeout=5,
                            headers={"Authorization": f"Bearer {admin_token}"})
        resp.raise_for_status()
        body = resp.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("could not read the breakers: %s", exc)
        return {}
    return {b["name"]: {k: b.get(k) for k in ("state", "reset_timeout_s", "fail_max", "enabled")}
            for b in normalize_breakers(body)}
