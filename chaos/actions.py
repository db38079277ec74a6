"""Actions an experiment's method can take besides faults: control the load, end this run's
faults, and act as one shopper (sign up, place an order) to create a known record — e.g. the
poison record whose Owner a lambda-error `match` names.

An action is `fn(run, params) -> output`, registered by name in `ACTIONS`; `run` is the small
`RunControls` interface below (what an action may touch of the run it is part of), never the
runner itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

import requests

from chaos.context import ChaosContext
from chaos.exceptions import ActionFailed
from chaos.load.builtin import discover_skus
from chaos.registry import Registry


class RunControls(Protocol):
    """What an action may do to its run."""

    @property
    def ctx(self) -> ChaosContext: ...

    @property
    def seed(self) -> int: ...

    def start_load(self) -> dict[str, Any]: ...

    def stop_load(self) -> dict[str, Any]: ...

    def settle_orders(self, timeout: str | float | None = None) -> dict[str, Any]: ...

    def end_faults(self) -> list[str]:
        """End every open fault of the run now; the ids of those ended."""
        ...


Action = Callable[[RunControls, dict[str, Any]], Any]
ACTIONS: Registry[Action] = Registry("action")
action = ACTIONS.registers


@action("create-shopper")
def _shopper(run: RunControls, params: dict[str, Any]) -> dict[str, Any]:
    url = run.ctx.url("storefront")
    resp = requests.post(f"{url}/v1/shoppers", json={"name": params.get("name", "chaos")},
                         timeout=5)
    if resp.status_code != 201:
        raise ActionFailed(f"POST /v1/shoppers answered {resp.status_code}: {resp.text[:200]}")
    return resp.json()


@action("place-order")
def _place_order(run: RunControls, params: dict[str, Any]) -> dict[str, Any]:
    """Add one item to the shopper's cart and check out; fails unless the checkout is 202.
    Output: order_id, shopper_id, sku and the order's correlation_id."""
    shopper = params.get("shopper") or {}
    sid = params.get("shopper_id") or shopper.get("shopper_id")
    token = params.get("token") or shopper.get("token")
    if not sid or not token:
        raise ActionFailed("place-order needs shopper: ${saved-shopper} (or shopper_id + token)")
    sku = params.get("sku")
    if not sku:
        skus = discover_skus(run.ctx, limit=10)
        if not skus:
            raise ActionFailed("no product with stock to order")
        sku = random.Random(run.seed).choice(skus)
    url = run.ctx.url("storefront")
    headers = {"Authorization": f"Bearer {token}"}
    resp = requests.post(f"{url}/v1/carts/{sid}/items", json={"sku": sku,
                         "qty": int(params.get("qty", 1))}, headers=headers, timeout=5)
    if resp.status_code != 200:
        raise ActionFailed(f"add to cart answered {resp.status_code}: {resp.text[:200]}")
    resp = requests.post(f"{url}/v1/carts/{sid}/checkout", json={}, headers=headers, timeout=10)
    if resp.status_code != 202:
        raise ActionFailed(f"checkout answered {resp.status_code}: {resp.text[:200]}")
    # the checkout's correlation ID is the order's (its stream records carry it)
    return {"order_id": resp.json()["order_id"], "shopper_id": sid, "sku": sku,
            "correlation_id": resp.headers.get("X-Correlation-ID")}


@action("start-load")
def _start_load(run: RunControls, params: dict[str, Any]) -> dict[str, Any]:
    return run.start_load()


@action("stop-load")
def _stop_load(run: RunControls, params: dict[str, Any]) -> dict[str, Any]:
    return run.stop_load()


@action("cleanup")
def _cleanup(run: RunControls, params: dict[str, Any]) -> dict[str, Any]:
    return {"ended": run.end_faults()}


@action("settle-orders")
def _settle(run: RunControls, params: dict[str, Any]) -> dict[str, Any]:
    return run.settle_orders(params.get("timeout"))
