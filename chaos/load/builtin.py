"""The built-in load: a few shopper threads browsing, adding to a cart and checking out.

Each virtual user signs up, looks at a product, adds it to its cart and checks out; after an
accepted checkout (202) it becomes a new shopper (one order per shopper keeps duplicate
detection exact: two orders for one owner are a duplicate). A 503 is honoured with a short
back-off (Retry-After, capped). Every request is recorded (time, latency, status, whether a
503 carried Retry-After); every accepted order is kept for the orders verdicts.

Light on purpose (threads + requests, a handful of users): the point is a steady, measurable
trickle of checkouts on a 2-core machine, not peak throughput — Locust is for that.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import requests

from chaos.context import ChaosContext
from chaos.load.records import PlacedOrder, Recorder, RequestRecord
from chaos.safety import require_loopback

log = logging.getLogger("chaos.load.builtin")

MAX_BACKOFF_S = 1.0


def discover_skus(ctx: ChaosContext, limit: int = 20, min_qty: int = 20) -> list[str]:
    """SKUs with plenty of stock, from the products table (the public data model)."""
    table = f"{ctx.state.get('table_prefix', 'shop-')}products"
    client = ctx.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": table, "FilterExpression": "TranId = :z",
        "ExpressionAttributeValues": {":z": {"S": "0"}},
        "ProjectionExpression": "ProductId, Qty",
    }
    found: list[tuple[int, str]] = []
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            qty = int(item.get("Qty", {}).get("N", "0"))
            if qty >= min_qty:
                found.append((qty, item["ProductId"]["S"]))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [sku for _, sku in sorted(found, reverse=True)[:limit]]


class BuiltinLoad:
    """Start/stop a few shopper threads against the storefront."""

    def __init__(self, storefront: str, skus: list[str], users: int = 3,
                 think_time_s: float = 0.2, seed: int = 0, timeout_s: float = 5.0,
                 browse: bool = True) -> None:
        if not skus:
            raise ValueError("the built-in load needs at least one SKU")
        self.storefront = require_loopback(storefront, "storefront").rstrip("/")
        self.skus = list(skus)
        self.users = users
        self.think_time_s = think_time_s
        self.seed = seed
        self.timeout_s = timeout_s
        self.browse = browse
        self.recorder = Recorder()
        self.orders: list[PlacedOrder] = []
        self._orders_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.stop_requested_at: float | None = None  # no request starts after this
        self.stopped_at: float | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.started_at = time.time()
        for i in range(self.users):
            thread = threading.Thread(target=self._user, args=(i,), name=f"load-user-{i}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_requested_at = time.time()
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stopped_at = time.time()

    def placed(self) -> list[PlacedOrder]:
        with self._orders_lock:
            return list(self.orders)

    def summary(self) -> dict[str, Any]:
        records = self.recorder.snapshot()
        return {"driver": "builtin", "users": self.users, "requests": len(records),
                "orders_accepted": len(self.placed())}

    # -- one virtual user -------------------------------------------------------------------
    def _call(self, session: requests.Session, name: str, method: str, path: str,
              token: str | None = None, body: Any = None) -> requests.Response | None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        start = time.time()
        t0 = time.perf_counter()
        try:
            resp = session.request(method, self.storefront + path, json=body, headers=headers,
                                   timeout=self.timeout_s)
        except requests.RequestException as exc:
            self.recorder.add(RequestRecord(start, time.perf_counter() - t0, name, 0,
                                            error=type(exc).__name__))
            return None
        self.recorder.add(RequestRecord(start, time.perf_counter() - t0, name,
                                        resp.status_code, "Retry-After" in resp.headers))
        return resp

    def _pause(self, seconds: float) -> bool:
        """Wait; True when the load is being stopped."""
        return self._stop.wait(max(0.0, seconds))

    def _user(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        session = requests.Session()
        shopper: tuple[str, str] | None = None
        while not self._stop.is_set():
            if shopper is None:
                resp = self._call(session, "signup", "POST", "/v1/shoppers", body={})
                if resp is None or resp.status_code != 201:
                    if self._pause(0.5):
                        break
                    continue
                data = resp.json()
                shopper = (data["shopper_id"], data["token"])
            sid, token = shopper
            sku = rng.choice(self.skus)
            if self.browse:
                self._call(session, "browse", "GET", f"/v1/products/{sku}")
            resp = self._call(session, "add_item", "POST", f"/v1/carts/{sid}/items", token,
                              {"sku": sku, "qty": 1})
            if resp is not None and resp.status_code == 200:
                resp = self._call(session, "checkout", "POST", f"/v1/carts/{sid}/checkout",
                                  token, {})
                if resp is not None and resp.status_code == 202:
                    order_id = resp.json().get("order_id")
                    if order_id:
                        with self._orders_lock:
                            self.orders.append(PlacedOrder(order_id, sid, token, time.time()))
                    shopper = None
            if resp is not None and resp.status_code == 409:
                shopper = None  # a cart stuck in checkout: carry on as someone else
            if resp is not None and resp.status_code in (429, 503):
                try:
                    wait = float(resp.headers.get("Retry-After", MAX_BACKOFF_S))
                except ValueError:
                    wait = MAX_BACKOFF_S
                if self._pause(min(wait, MAX_BACKOFF_S)):
                    break
            elif resp is None and self._pause(0.2):
                break
            if self._pause(self.think_time_s * (0.5 + rng.random())):
                break
        session.close()
