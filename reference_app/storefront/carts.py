"""The cart repository: optimistic concurrency control exactly as seed 003 / docs/shop.md.

1. add/remove: consistent GetItem → v_read; UpdateItem with
   `Version = :v AND CheckOut = :false`, `SET Version = Version + 1`.
   A new cart is a PutItem with `attribute_not_exists(CartId)`.
2. checkout begin: `SET CheckOut = true` IF `Version = v_read AND CheckOut = false`.
3. checkout commit: `SET Items = {}, CheckOut = false` IF `Version = v_read AND CheckOut = true`.
4. checkout rollback: `SET CheckOut = false` IF `Version = v_read AND CheckOut = true`.
(3 and 4 also bump Version and remove OrderId; see docs/shop.md.)

Adds are idempotent: each add carries a token (the request's `Idempotency-Key`, else one made
up for the request), and the cart row keeps the last ADD_TOKENS_KEPT tokens it applied
(`AddTokens`, written in the same conditional write). An add whose token the cart already holds
changes nothing and answers the cart as it is. This closes a double add: a write that timed
out after DynamoDB applied it is retried (by botocore's retries, by the OCC loop, or by the
client with the same key); the retry's condition fails on the version the first write bumped,
the loop re-reads, and without the token it would add the quantity a second time.

A failed condition re-reads and retries, up to `max_attempts` attempts with jittered
exponential back-off, each conflict counted in `shop_cart_occ_conflicts_total{operation}`;
then 409 `cart_conflict`. A cart being checked out is 409 `cart_checking_out` at once.
Limits (lines per cart, qty per line) are checked against the cart as read, before writing.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_app.clock import now_s
from reference_app.ddb import from_item, is_condition_failure, to_attr
from reference_app.errors import ApiError
from reference_app.metrics import CART_OCC_CONFLICTS

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 0.25
RETRIES_HEADER = "X-OCC-Retries"
ADD_TOKENS_KEPT = 20


@dataclass
class Cart:
    """One cart as stored (an absent cart reads as version 0, empty)."""

    cart_id: str
    version: int = 0
    checking_out: bool = False
    items: dict[str, int] = field(default_factory=dict)
    order_id: str | None = None
    updated_at: int | None = None
    add_tokens: list[str] = field(default_factory=list)  # the last adds applied

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Cart:
        return cls(
            cart_id=row["CartId"],
            version=int(row.get("Version", 0)),
            checking_out=bool(row.get("CheckOut", False)),
            items={sku: int(qty) for sku, qty in (row.get("Items") or {}).items()},
            order_id=row.get("OrderId"),
            updated_at=row.get("UpdatedAt"),
            add_tokens=[str(t) for t in (row.get("AddTokens") or [])],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cart_id": self.cart_id,
            "version": self.version,
            "checking_out": self.checking_out,
            "order_id": self.order_id,
            "items": [{"sku": sku, "qty": qty} for sku, qty in sorted(self.items.items())],
            "item_count": sum(self.items.values()),
            "updated_at": self.updated_at,
        }


@dataclass
class CartWrite:
    """The cart after a successful write and how many OCC retries it took."""

    cart: Cart
    retries: int
    replayed: bool = False  # an add whose token the cart already held: nothing written


@dataclass
class _Plan:
    """One conditional write computed from the cart as read."""

    request: dict[str, Any]
    is_put: bool
    new_cart: Cart | None = None  # for a put (no ReturnValues ALL_NEW)
    replay_of: Cart | None = None  # nothing to write: this add was applied to this cart


class CartRepository:
    """OCC reads and writes of `shop-carts`."""

    def __init__(self, ddb: Any, table: str, max_attempts: int, max_lines: int,
                 max_qty: int, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.ddb = ddb
        self.table = table
        self.max_attempts = max_attempts
        self.max_lines = max_lines
        self.max_qty = max_qty
        self._sleep = sleep
        self._rng = rng or random.Random()

    # -- reads ------------------------------------------------------------------------------
    def get(self, cart_id: str) -> Cart | None:
        """The cart, read consistently (None when it does not exist)."""
        response = self.ddb.get_item(TableName=self.table, Key={"CartId": {"S": cart_id}},
                                     ConsistentRead=True)
        row = from_item(response.get("Item"))
        return Cart.from_row(row) if row else None

    def backoff_s(self, attempt: int) -> float:
        """Full-jitter exponential back-off before retry number `attempt` (1-based)."""
        return self._rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))

    # -- the OCC loop -----------------------------------------------------------------------
    def _occ_write(self, cart_id: str, operation: str,
                   plan_for: Callable[[Cart | None], _Plan]) -> CartWrite:
        retries = 0
        for attempt in range(1, self.max_attempts + 1):
            cart = self.get(cart_id)
            if cart is not None and cart.checking_out:
                raise ApiError(409, "cart_checking_out", "the cart is being checked out",
                               headers={RETRIES_HEADER: str(retries)})
            plan = plan_for(cart)  # may raise ApiError: nothing is written then
            if plan.replay_of is not None:
                return CartWrite(plan.replay_of, retries, replayed=True)
            try:
                if plan.is_put:
                    self.ddb.put_item(**plan.request)
                    return CartWrite(plan.new_cart or Cart(cart_id), retries)
                response = self.ddb.update_item(**plan.request, ReturnValues="ALL_NEW")
                return CartWrite(Cart.from_row(from_item(response["Attributes"]) or {}), retries)
            except Exception as exc:
                if not is_condition_failure(exc):
                    raise
            CART_OCC_CONFLICTS.labels(operation).inc()
            retries += 1
            if attempt < self.max_attempts:
                self._sleep(self.backoff_s(attempt))
        log.warning("cart %s: %s gave up after %d conflicting attempts", cart_id, operation,
                    self.max_attempts)
        raise ApiError(409, "cart_conflict",
                       f"the cart kept changing; gave up after {self.max_attempts} attempts",
                       headers={RETRIES_HEADER: str(retries)})

    def _update(self, cart: Cart, sku: str, new_qty: int, token: str | None = None) -> _Plan:
        """The conditional UpdateItem setting the line of `sku` to new_qty (0 removes it), and
        recording the add's `token` when given."""
        sets = "SET #v = #v + :one, UpdatedAt = :now"
        values: dict[str, Any] = {}
        if token is not None:
            sets += ", AddTokens = :tokens"
            values[":tokens"] = to_attr([*cart.add_tokens, token][-ADD_TOKENS_KEPT:])
        if new_qty > 0:
            update = f"{sets}, #items.#sku = :qty"
            values[":qty"] = to_attr(new_qty)
        else:
            update = f"{sets} REMOVE #items.#sku"
        return _Plan(is_put=False, request={
            "TableName": self.table,
            "Key": {"CartId": {"S": cart.cart_id}},
            "UpdateExpression": update,
            "ConditionExpression": "#v = :v AND #co = :false",
            "ExpressionAttributeNames": {"#v": "Version", "#co": "CheckOut", "#items": "Items",
                                         "#sku": sku},
            "ExpressionAttributeValues": {
                ":v": to_attr(cart.version), ":one": to_attr(1), ":now": to_attr(now_s()),
                ":false": to_attr(False), **values,
            },
        })

    # -- operations -------------------------------------------------------------------------
    def add_item(self, cart_id: str, sku: str, qty: int, token: str | None = None) -> CartWrite:
        """Add `qty` of `sku` (creating the cart on first use), once per `token` (one is made
        up when None, which still guards this request's own retries)."""
        token = token or uuid.uuid4().hex

        def plan(cart: Cart | None) -> _Plan:
            if cart is not None and token in cart.add_tokens:
                return _Plan(request={}, is_put=False, replay_of=cart)
            current = cart.items.get(sku, 0) if cart else 0
            lines = len(cart.items) if cart else 0
            if current == 0 and lines >= self.max_lines:
                raise ApiError(409, "cart_limit_exceeded",
                               f"a cart holds at most {self.max_lines} different items", "sku")
            if current + qty > self.max_qty:
                raise ApiError(409, "cart_limit_exceeded",
                               f"at most {self.max_qty} of one item per cart "
                               f"({current} already in the cart)", "qty")
            if cart is None:
                now = now_s()
                new_cart = Cart(cart_id, version=1, items={sku: qty}, updated_at=now,
                                add_tokens=[token])
                return _Plan(is_put=True, new_cart=new_cart, request={
                    "TableName": self.table,
                    "Item": {"CartId": to_attr(cart_id), "Version": to_attr(1),
                             "CheckOut": to_attr(False), "Items": to_attr({sku: qty}),
                             "UpdatedAt": to_attr(now), "AddTokens": to_attr([token])},
                    "ConditionExpression": "attribute_not_exists(CartId)",
                })
            return self._update(cart, sku, current + qty, token)

        return self._occ_write(cart_id, "add_item", plan)

    def remove_item(self, cart_id: str, sku: str, qty: int | None = None) -> CartWrite:
        """Remove `qty` of `sku` (all of it when qty is None or not less than the line)."""

        def plan(cart: Cart | None) -> _Plan:
            if cart is None:
                raise ApiError(404, "cart_not_found", "the cart does not exist", "cart_id")
            current = cart.items.get(sku, 0)
            if current == 0:
                raise ApiError(404, "item_not_in_cart", f"{sku} is not in the cart", "sku")
            return self._update(cart, sku, 0 if qty is None else max(0, current - qty))

        return self._occ_write(cart_id, "remove_item", plan)

    # -- checkout (steps 2-4) ---------------------------------------------------------------
    def begin_checkout_update(self, cart: Cart, order_id: str) -> dict[str, Any]:
        """The TransactWriteItems `Update` of checkout begin (step 2) for the cart as read."""
        return {"Update": {
            "TableName": self.table,
            "Key": {"CartId": {"S": cart.cart_id}},
            "UpdateExpression": "SET #co = :true, OrderId = :oid, UpdatedAt = :now",
            "ConditionExpression": "#v = :v AND #co = :false",
            "ExpressionAttributeNames": {"#v": "Version", "#co": "CheckOut"},
            "ExpressionAttributeValues": {
                ":v": to_attr(cart.version), ":true": to_attr(True), ":false": to_attr(False),
                ":oid": to_attr(order_id), ":now": to_attr(now_s()),
            },
        }}

    def abandon_checkout_update(self, cart_id: str, order_id: str) -> dict[str, Any]:
        """The TransactWriteItems `Update` ending the checkout of `order_id` with the items kept
        (a checkout that failed before any charge). No version is read: while CheckOut is true
        only the checkout itself writes the cart."""
        return {"Update": {
            "TableName": self.table,
            "Key": {"CartId": {"S": cart_id}},
            "UpdateExpression": "SET #co = :false, #v = #v + :one, UpdatedAt = :now "
                                "REMOVE OrderId",
            "ConditionExpression": "#co = :true AND OrderId = :oid",
            "ExpressionAttributeNames": {"#v": "Version", "#co": "CheckOut"},
            "ExpressionAttributeValues": {
                ":true": to_attr(True), ":false": to_attr(False), ":one": to_attr(1),
                ":oid": to_attr(order_id), ":now": to_attr(now_s()),
            },
        }}

    def _finish_checkout(self, cart_id: str, v_read: int, clear_items: bool,
                         order_id: str | None) -> bool:
        update = "SET #co = :false, #v = #v + :one, UpdatedAt = :now REMOVE OrderId"
        values: dict[str, Any] = {":v": to_attr(v_read), ":true": to_attr(True),
                                  ":false": to_attr(False), ":one": to_attr(1),
                                  ":now": to_attr(now_s())}
        names = {"#v": "Version", "#co": "CheckOut"}
        condition = "#v = :v AND #co = :true"
        if order_id is not None:
            condition += " AND OrderId = :oid"
            values[":oid"] = to_attr(order_id)
        if clear_items:
            update = update.replace("SET ", "SET #items = :empty, ", 1)
            values[":empty"] = {"M": {}}
            names["#items"] = "Items"
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"CartId": {"S": cart_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def commit_checkout(self, cart_id: str, v_read: int, order_id: str | None = None) -> bool:
        """Step 3: empty the cart and end the checkout; False when the condition failed (already
        committed or rolled back, or the checkout of another order when order_id is given)."""
        return self._finish_checkout(cart_id, v_read, clear_items=True, order_id=order_id)

    def rollback_checkout(self, cart_id: str, v_read: int, order_id: str | None = None) -> bool:
        """Step 4: end the checkout keeping the items; False when the condition failed."""
        return self._finish_checkout(cart_id, v_read, clear_items=False, order_id=order_id)
