"""Test doubles for the load tests: an in-memory shop behind a fake Locust HTTP client.

The fake client records every request (method, name, path, JSON body) and answers like the
documented API (docs/shop.md) with deterministic ids, so journeys can run without a server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from locust.env import Environment

from loadtests.config import RunConfig, set_run_config


@dataclass
class FakeResponse:
    status_code: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    verdict: str | None = None
    reason: str = ""

    @property
    def text(self) -> str:
        return "" if self.body is None else json.dumps(self.body)

    def success(self) -> None:
        self.verdict = "success"

    def failure(self, reason: str) -> None:
        self.verdict, self.reason = "failure", reason

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False


class FakeShop:
    """Just enough of the storefront to drive every journey."""

    def __init__(self, catalog_size: int = 40, polls_until_done: int = 2) -> None:
        self.catalog_size = catalog_size
        self.polls_until_done = polls_until_done
        self.shoppers = 0
        self.carts: dict[str, dict[str, int]] = {}
        self.orders: dict[str, int] = {}
        self.likes: set[tuple[str, str]] = set()

    def product(self, sku: str) -> dict[str, Any] | None:
        number = int(sku.split("-")[1]) if re.fullmatch(r"SKU-\d{5}", sku) else 0
        if not 1 <= number <= self.catalog_size:
            return None
        words = ["alpha", "bravo", "charlie", "delta", "echo"]
        name = f"{words[number % 5].title()} Widget {number}"
        return {"sku": sku, "name": name, "keywords": [words[number % 5], "widget"],
                "price_cents": 100 * number, "reviews": 0, "likes": 0, "counts_stale": False}

    def cart_body(self, cart_id: str) -> dict[str, Any]:
        items = self.carts.setdefault(cart_id, {})
        return {"cart_id": cart_id, "version": 1, "checking_out": False,
                "items": [{"sku": s, "qty": q} for s, q in sorted(items.items())]}

    def answer(self, method: str, path: str, body: Any) -> FakeResponse:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        if (method, url.path) == ("POST", "/v1/shoppers"):
            self.shoppers += 1
            return FakeResponse(201, {"shopper_id": f"shp-{self.shoppers}",
                                      "token": f"tok-{self.shoppers}"})
        if (method, url.path) == ("GET", "/v1/products"):
            word = query.get("q", [""])[0]
            hits = [self.product(f"SKU-{n:05d}") for n in range(1, self.catalog_size + 1)]
            hits = [h for h in hits if h and word in h["keywords"]][:3]
            return FakeResponse(200, {"items": hits, "count": len(hits)})
        if (method, url.path) == ("GET", "/v1/weekly-products"):
            items = [self.product(f"SKU-{n:05d}") for n in (1, 3, 8)]
            return FakeResponse(200, {"week": "2026-W47", "items": items})
        if parts[:2] == ["v1", "products"] and len(parts) == 3 and method == "GET":
            product = self.product(parts[2])
            return FakeResponse(200, product) if product else FakeResponse(404, {"error": {
                "code": "product_not_found", "message": "no product"}})
        if parts[:2] == ["v1", "products"] and len(parts) == 4:
            if parts[3] == "reviews":
                return FakeResponse(201, {"review": {"sku": parts[2]}})
            key = (parts[2], "me")
            status = 200 if key in self.likes else 201
            self.likes.add(key)
            return FakeResponse(status, {"like": {"sku": parts[2]}})
        if parts[:2] == ["v1", "carts"]:
            cart_id = parts[2]
            items = self.carts.setdefault(cart_id, {})
            if len(parts) == 3 and method == "GET":
                return FakeResponse(200, self.cart_body(cart_id))
            if len(parts) == 4 and parts[3] == "items":
                items[body["sku"]] = items.get(body["sku"], 0) + int(body["qty"])
                return FakeResponse(200, self.cart_body(cart_id), {"X-OCC-Retries": "0"})
            if len(parts) == 5 and method == "DELETE":
                sku = parts[4]
                if sku not in items:
                    return FakeResponse(404, {"error": {"code": "item_not_in_cart"}})
                items[sku] -= int(query.get("qty", ["1"])[0])
                if items[sku] <= 0:
                    del items[sku]
                return FakeResponse(200, self.cart_body(cart_id), {"X-OCC-Retries": "1"})
            if parts[3] == "checkout":
                if not items:
                    return FakeResponse(409, {"error": {"code": "cart_empty"}})
                order_id = f"ord-{len(self.orders) + 1}"
                self.orders[order_id] = 0
                items.clear()
                return FakeResponse(202, {"order_id": order_id, "status": "PENDING"})
        if parts[:2] == ["v1", "orders"]:
            order_id = parts[2]
            self.orders[order_id] += 1
            done = self.orders[order_id] >= self.polls_until_done
            return FakeResponse(200, {"order_id": order_id,
                                      "status": "COMPLETED" if done else "PENDING"})
        return FakeResponse(404, {"error": {"code": "not_found"}})


class FakeClient:
    """Stands in for FastHttpSession: records requests, answers from a FakeShop."""

    def __init__(self, shop: FakeShop) -> None:
        self.shop = shop
        self.calls: list[tuple[str, str, str, Any]] = []
        self.responses: list[FakeResponse] = []

    def request(self, method: str, path: str, name: str | None = None,
                catch_response: bool = False, json: Any = None,
                headers: dict[str, str] | None = None, **_kw: Any) -> FakeResponse:
        assert catch_response, "every request must be classified with catch_response"
        assert name and "{" in name or name in ("/v1/shoppers", "/v1/weekly-products"), name
        self.calls.append((method, str(name), path, json))
        response = self.shop.answer(method, path, json)
        self.responses.append(response)
        return response


FAKE_HOST = "http://127.0.0.1:9"
_WITH_HOST: dict[type, type] = {}


def with_host(user_class: type) -> type:
    """A subclass with a host (Locust's runner would set it on the class; we do not)."""
    if user_class not in _WITH_HOST:
        _WITH_HOST[user_class] = type(user_class.__name__, (user_class,), {"host": FAKE_HOST})
    return _WITH_HOST[user_class]


def make_environment(user_class: type, config: RunConfig | None = None) -> Environment:
    environment = Environment(user_classes=[with_host(user_class)], host=FAKE_HOST)
    set_run_config(environment, config or RunConfig(seed=42, catalog_size=40,
                                                    order_poll_interval=0.001))
    return environment


def run_user(user_class: type, steps: int, config: RunConfig | None = None,
             environment: Environment | None = None,
             shop: FakeShop | None = None) -> tuple[Any, FakeClient]:
    """Create one user on a fake shop, start it and run `steps` tasks of its TaskSet."""
    environment = environment or make_environment(user_class, config)
    user = with_host(user_class)(environment)
    client = FakeClient(shop or FakeShop())
    user.client = client
    user.on_start()
    taskset = user.tasks[0](user)
    taskset.on_start()
    for _ in range(steps):
        taskset.execute_task(taskset.get_next_task())
    return user, client
