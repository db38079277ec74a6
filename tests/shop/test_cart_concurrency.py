"""20 concurrent writers on one cart: every item whose add returned 200 is in the cart, and the
OCC conflicts were really seen and retried."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client import REGISTRY

from tests.shop.conftest import Shop

pytestmark = pytest.mark.integration
WRITERS = 20


def test_concurrent_adds_of_distinct_skus(shop: Shop) -> None:
    sid, headers = shop.new_shopper()
    skus = [f"SKU-{n:05d}" for n in range(1, WRITERS + 1)]
    start = threading.Barrier(WRITERS)
    conflicts_before = REGISTRY.get_sample_value("shop_cart_occ_conflicts_total",
                                                 {"operation": "add_item"}) or 0.0

    def add(sku: str) -> tuple[str, int, int, str]:
        start.wait(timeout=30)
        response = requests.post(f"{shop.storefront}/v1/carts/{sid}/items",
                                 json={"sku": sku, "qty": 1}, headers=headers, timeout=60)
        code = "" if response.status_code == 200 else response.json()["error"]["code"]
        return sku, response.status_code, int(response.headers.get("X-OCC-Retries", 0)), code

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(add, skus))

    accepted = {sku for sku, status, _, _ in results if status == 200}
    refused = [(sku, status, code) for sku, status, _, code in results if status != 200]
    assert all(status == 409 and code == "cart_conflict" for _, status, code in refused), refused
    assert accepted, results

    cart = requests.get(f"{shop.storefront}/v1/carts/{sid}", headers=headers, timeout=10).json()
    assert {item["sku"] for item in cart["items"]} == accepted
    assert all(item["qty"] == 1 for item in cart["items"])
    assert cart["version"] == len(accepted)  # one version per successful write

    retries = sum(r for _, _, r, _ in results)
    assert retries > 0, "no OCC conflict was seen: the writers did not overlap"
    conflicts = (REGISTRY.get_sample_value("shop_cart_occ_conflicts_total",
                                           {"operation": "add_item"}) or 0.0) - conflicts_before
    assert conflicts == retries
