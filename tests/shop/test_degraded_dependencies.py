"""Degraded dependencies: the reviews service down (stale counts from Redis) and Redis down
(catalog reads and carts still work, straight from DynamoDB)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis
import requests

from reference_app.config import Settings
from tests.shop.conftest import closed_port_url, running_shop

pytestmark = pytest.mark.integration
T = 10


def test_product_counts_fall_back_to_the_last_known(
        base_settings: Settings, fresh_redis_db: Callable[[int], str]) -> None:
    redis_url = fresh_redis_db(7)
    settings = dataclasses.replace(base_settings, redis_url=redis_url, breaker_fail_max=2,
                                   dependency_timeout_s=0.5)
    with running_shop(settings) as shop:
        live = requests.get(f"{shop.storefront}/v1/products/SKU-00015", timeout=T).json()
        assert live["counts_stale"] is False
        shop.reviews_switch.set_mode("error")
        client = redis.Redis.from_url(redis_url)
        client.delete(f"{settings.tables.prefix}cache:counts:SKU-00015")  # TTL entry gone
        client.close()
        for _ in range(4):  # failing calls, then the open breaker: same answer
            stale = requests.get(f"{shop.storefront}/v1/products/SKU-00015", timeout=T)
            assert stale.status_code == 200
            body = stale.json()
            assert body["counts_stale"] is True
            assert (body["reviews"], body["likes"]) == (live["reviews"], live["likes"])
        never_seen = requests.get(f"{shop.storefront}/v1/products/SKU-00016", timeout=T).json()
        assert never_seen["counts_stale"] is True
        assert never_seen["reviews"] is None and never_seen["likes"] is None
        assert never_seen["name"]

        _, headers = shop.new_shopper()
        down = requests.post(f"{shop.storefront}/v1/products/SKU-00015/likes", headers=headers,
                             timeout=T)
        assert down.status_code == 503 and int(down.headers["Retry-After"]) >= 1


def test_redis_down_does_not_fail_the_storefront(base_settings: Settings) -> None:
    dead = closed_port_url().replace("http://", "redis://") + "/0"
    settings = dataclasses.replace(base_settings, redis_url=dead)
    with running_shop(settings) as shop:
        detail = requests.get(f"{shop.storefront}/v1/products/SKU-00017", timeout=T)
        assert detail.status_code == 200 and detail.json()["counts_stale"] is False
        search = requests.get(f"{shop.storefront}/v1/products",
                              params={"q": detail.json()["keywords"][0]}, timeout=T)
        assert search.status_code == 200 and search.json()["count"] >= 1
        assert requests.get(f"{shop.storefront}/v1/weekly-products", timeout=T).status_code == 200
        sid, headers = shop.new_shopper()
        added = requests.post(f"{shop.storefront}/v1/carts/{sid}/items",
                              json={"sku": "SKU-00017", "qty": 1}, headers=headers, timeout=T)
        assert added.status_code == 200
        checkout = requests.post(f"{shop.storefront}/v1/carts/{sid}/checkout", headers=headers,
                                 timeout=T)
        assert checkout.status_code == 202, checkout.text
