"""Actions an experiment's method can take besides faults: control the load, end this run's
faults, and act as one shopper (sign up, place an order) to create a known record — e.g. the
poison record whose Owner a lambda-error `match` names.

An action is `fn(run, params) -> output`, registered by name in `ACTIONS`."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import requests

from chaos.exceptions import ActionFailed
from chaos.load.builtin import discover_skus
from chaos.registry import Registry

Action = Callable[[Any, dict[str, Any]], Any]
ACTIONS: Registry[Action] = Registry("action")
action = ACTIONS.registers


@action("create-shopper")
def _shopper(run: Any, params: dict[str, Any]) -> dict[str, Any]:
    url = run.env.ctx.url("storefront")
    resp = requests.post(f"{url}/v1/shoppers", json={"name": params.get("name", "chaos")},
                         timeout=5)
    if resp.status_code != 201:
        raise ActionFailed(f"POST /v1/shoppers answered {resp.status_code}: {resp.text[:200]}")
    return resp.json()


@action("place-order")
def _place_order(run: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Add one item to the shopper's cart and check out; fails unless the checkout is 202."""
    shopper = params.get("shopper") or {}
    sid = params.get("shopper_id") or shopper.get("shopper_id")
    token = params.get("token") or shopper.get("token")
    if not sid or not token:
        raise ActionFailed("place-order needs shopper: ${saved-shopper} (or shopper_id + token)")
    sku = params.get("sku")
    if not sku:
        skus = discover_skus(run.env.ctx, limit=10)
        if not skus:
            raise ActionFailed("no product with stock to order")
        sku = random.Random(run.seed).choice(skus)
    url = run.env.ctx.url("storefront")
    headers = {"Authorization": f"Bearer {token}"}
    resp = requests.post(f"{url}/v1/carts/{sid}/items", json={"sku": sku,
                         "qty": int(params.get("qty", 1))}, headers=headers, timeout=5)
    if resp.status_code != 200:
        raise ActionFailed(f"add to cart answered {resp.status_code}: {resp.text[:200]}")
    resp = requests.post(f"{url}/v1/carts/{sid}/checkout", json={}, headers=headers, timeout=10)
    if resp.status_code != 202:
        raise ActionFailed(f"checkout answered {resp.status_code}: {resp.text[:200]}")
    return {"order_id": resp.json()["order_id"], "shopper_id": sid, "sku": sku}


@action("start-load")
def _start_load(run: Any, params: dict[str, Any]) -> dict[str, Any]:
    return run.start_load()


@action("stop-load")
def _stop_load(run: Any, params: dict[str, Any]) -> dict[str, Any]:
    return run.stop_load()


@action("cleanup")
def _cleanup(run: Any, params: dict[str, Any]) -> dict[str, Any]:
    ended = [w.fault_id for w in run.scheduler.open_windows()]
    run.scheduler.end_all()
    return {"ended": ended}


@action("settle-orders")
def _settle(run: Any, params: dict[str, Any]) -> dict[str, Any]:
    return run.settle_orders(params.get("timeout"))
