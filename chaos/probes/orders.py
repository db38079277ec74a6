"""Orders from the outside: an order's status over HTTP (the owner's token), and the orders
table (DynamoDB scan, the public data model) to count orders per owner — the duplicates check."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import requests

from chaos.context import ChaosContext
from chaos.load.records import PlacedOrder

log = logging.getLogger("chaos.probes.orders")

TERMINAL = ("COMPLETED", "CANCELLED")


def order_status(storefront: str, order: PlacedOrder, timeout_s: float = 3.0) -> str | None:
    resp = requests.get(f"{storefront}/v1/orders/{order.order_id}", timeout=timeout_s,
                        headers={"Authorization": f"Bearer {order.token}"})
    if resp.status_code != 200:
        return None
    return resp.json().get("status") or resp.json().get("Status")


def settle(storefront: str, orders: list[PlacedOrder], timeout_s: float,
           interval_s: float = 1.0) -> dict[str, int]:
    """Poll every non-terminal order until all are terminal or `timeout_s` passes; returns
    counts by status (None → "UNKNOWN")."""
    deadline = time.monotonic() + timeout_s
    while True:
        pending = [o for o in orders if o.status not in TERMINAL]
        for order in pending:
            try:
                order.status = order_status(storefront, order)
            except requests.RequestException as exc:
                log.debug("order %s: %s", order.order_id, exc)
        if all(o.status in TERMINAL for o in orders) or time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    return dict(Counter(o.status or "UNKNOWN" for o in orders))


def orders_of_owners(ctx: ChaosContext, owners: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """{owner: [order rows]} for the given owners, from a scan of the orders table."""
    wanted = set(owners)
    table = f"{ctx.state.get('table_prefix', 'shop-')}orders"
    client = ctx.client("dynamodb")
    out: dict[str, list[dict[str, Any]]] = {o: [] for o in wanted}
    kwargs: dict[str, Any] = {"TableName": table,
                              "ProjectionExpression": "OrderId, #o, #s, CartVersion",
                              "ExpressionAttributeNames": {"#o": "Owner", "#s": "Status"}}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            owner = item.get("Owner", {}).get("S")
            if owner in wanted:
                out[owner].append({
                    "order_id": item["OrderId"]["S"],
                    "status": item.get("Status", {}).get("S"),
                    "cart_version": item.get("CartVersion", {}).get("N"),
                })
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def duplicates(rows_by_owner: dict[str, list[dict[str, Any]]]) -> int:
    """Orders beyond the first for one checkout (same owner and cart version)."""
    count = 0
    for rows in rows_by_owner.values():
        per_checkout = Counter(r.get("cart_version") for r in rows)
        count += sum(n - 1 for n in per_checkout.values() if n > 1)
    return count
