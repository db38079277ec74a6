"""shop-order-completion (orders stream): the cart's commit or rollback (seed 003 scenarios 3
and 4) and the order's final step.

- MODIFY to PAID: one TransactWriteItems: cart commit `SET Items = {}, CheckOut = false,
  Version = Version + 1 REMOVE OrderId` IF `Version = v_read AND CheckOut = true AND
  OrderId = :order`, and the order -> COMPLETED IF `Status = PAID` (so a cart is never emptied
  for an order that was cancelled meanwhile). If the cart no longer checks out this order, only
  the order transition is left to do.
- MODIFY to CANCELLED: cart rollback `SET CheckOut = false, Version = Version + 1
  REMOVE OrderId` IF `Version = v_read AND CheckOut = true AND OrderId = :order` (items kept).

Both cart writes are OCC read-modify-writes retried on a failed cart condition (up to
SHOP_CART_MAX_ATTEMPTS, jittered back-off, counted in shop_cart_occ_conflicts_total). A cart
that is not checking out this order (or no longer exists) had the step done already: success.
Redelivered records therefore change nothing.
"""

from __future__ import annotations

import random
import time
from typing import Any

from reference_app.clock import now_s
from reference_app.ddb import cancellation_codes, from_item, is_condition_failure, to_attr
from reference_app.handlers import batch_reads, orders
from reference_app.handlers.common import (
    RecordContext,
    StreamRecord,
    aws,
    record_concurrency,
    run_batch,
    settings,
)
from reference_app.metrics import CART_OCC_CONFLICTS

FUNCTION_NAME = "shop-order-completion"
BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 0.25


class CartBusy(RuntimeError):
    """The cart's OCC condition kept failing; the record is retried by the stream."""


def _cart_key(cart_id: str) -> tuple[str, dict[str, Any]]:
    return settings().tables.carts, {"CartId": {"S": cart_id}}


def _get_cart(cart_id: str) -> dict[str, Any] | None:
    """The cart, read consistently: the batch's prefetched row the first time (batch_reads),
    then GetItem. A prefetched cart that no longer checks out the order never will again (a
    cart takes a new OrderId only after this one is committed or rolled back); one that
    still does is written under its version, and a stale version is an OCC retry that reads
    again."""
    return from_item(batch_reads.consistent_item(aws("dynamodb"), *_cart_key(cart_id)))


def prefetch(record: StreamRecord) -> list[tuple[str, dict[str, Any]]]:
    """The cart a PAID or CANCELLED order's step reads (run_batch reads them for the batch in
    one BatchGetItem)."""
    new = record.new or {}
    if record.event_name != "MODIFY" or new.get("Status") not in (orders.PAID, orders.CANCELLED):
        return []
    if record.old_value("Status") == new.get("Status"):
        return []
    return [_cart_key(str(new["Owner"]))]


def _cart_update(cart: dict[str, Any], order_id: str, commit: bool) -> dict[str, Any]:
    """The conditional UpdateItem of checkout commit (commit=True) or rollback for the cart as
    read (v_read = its Version)."""
    names = {"#v": "Version", "#co": "CheckOut"}
    values: dict[str, Any] = {
        ":v": to_attr(int(cart.get("Version", 0))), ":true": to_attr(True),
        ":false": to_attr(False), ":one": to_attr(1), ":now": to_attr(now_s()),
        ":order": to_attr(order_id),
    }
    update = "SET #co = :false, #v = #v + :one, UpdatedAt = :now"
    if commit:
        update += ", #items = :empty"
        names["#items"] = "Items"  # a reserved word
        values[":empty"] = {"M": {}}
    return {
        "TableName": settings().tables.carts,
        "Key": {"CartId": {"S": str(cart["CartId"])}},
        "UpdateExpression": update + " REMOVE OrderId",
        "ConditionExpression": "#v = :v AND #co = :true AND OrderId = :order",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _checking_out(cart: dict[str, Any] | None, order_id: str) -> bool:
    return bool(cart and cart.get("CheckOut") and cart.get("OrderId") == order_id)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt)))


def complete(order: dict[str, Any], ctx: RecordContext) -> str:
    """Commit the cart and complete the order in one transaction (cart condition + order
    `Status = PAID`); returns 'completed', 'already' or 'not_paid'."""
    order_id, cart_id = str(order["OrderId"]), str(order["Owner"])
    max_attempts = settings().cart_max_attempts
    for attempt in range(1, max_attempts + 1):
        cart = _get_cart(cart_id)
        if not _checking_out(cart, order_id):
            # The cart step was done (or there is no cart): only the order may be left.
            if orders.transition(order_id, orders.COMPLETED, orders.PAID):
                orders.count_order_event(orders.COMPLETED)
                ctx.log.info("order %s COMPLETED (cart %s already committed)", order_id,
                             cart_id)
                return "completed"
            ctx.log.info("order %s is no longer PAID: nothing to do", order_id)
            return "already"
        assert cart is not None
        try:
            aws("dynamodb").transact_write_items(TransactItems=[
                {"Update": _cart_update(cart, order_id, commit=True)},
                {"Update": orders.status_update(order_id, orders.COMPLETED, orders.PAID)},
            ])
            orders.count_order_event(orders.COMPLETED)
            ctx.log.info("cart %s committed (version %s) and order %s COMPLETED", cart_id,
                         cart.get("Version"), order_id)
            return "completed"
        except Exception as exc:
            codes = cancellation_codes(exc)
            if not codes:
                raise
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                ctx.log.info("order %s is no longer PAID: cart %s left to the rollback",
                             order_id, cart_id)
                return "not_paid"
            if codes[0] != "ConditionalCheckFailed" and "TransactionConflict" not in codes:
                raise
        CART_OCC_CONFLICTS.labels("checkout_commit").inc()
        if attempt < max_attempts:
            _backoff(attempt)
    raise CartBusy(f"cart {cart_id}: checkout commit gave up after {max_attempts} attempts")


def roll_back(order: dict[str, Any], ctx: RecordContext) -> str:
    """Checkout rollback of the order's cart; returns 'rolled_back' or 'already'."""
    order_id, cart_id = str(order["OrderId"]), str(order["Owner"])
    max_attempts = settings().cart_max_attempts
    for attempt in range(1, max_attempts + 1):
        cart = _get_cart(cart_id)
        if not _checking_out(cart, order_id):
            ctx.log.info("cart %s is not checking out order %s: rollback already done",
                         cart_id, order_id)
            return "already"
        assert cart is not None
        try:
            aws("dynamodb").update_item(**_cart_update(cart, order_id, commit=False))
            ctx.log.info("cart %s rolled back (version %s) for cancelled order %s", cart_id,
                         cart.get("Version"), order_id)
            return "rolled_back"
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
        CART_OCC_CONFLICTS.labels("checkout_rollback").inc()
        if attempt < max_attempts:
            _backoff(attempt)
    raise CartBusy(f"cart {cart_id}: checkout rollback gave up after {max_attempts} attempts")


def cart_of(record: StreamRecord) -> list[str]:
    """The cart a record may write (its owner's): records of one shopper's orders run in stream
    order (run_batch's `shares`)."""
    owner = record.image.get("Owner")
    return [f"cart:{owner}"] if owner else []


def process(ctx: RecordContext) -> None:
    record = ctx.record
    if record.event_name != "MODIFY" or not record.new:
        return
    status, before = record.new.get("Status"), record.old_value("Status")
    if status == orders.PAID and before != orders.PAID:
        complete(record.new, ctx)
    elif status == orders.CANCELLED and before != orders.CANCELLED:
        roll_back(record.new, ctx)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (orders stream)."""
    return run_batch(event, FUNCTION_NAME, process, prefetch=prefetch,
                     concurrency=record_concurrency(), shares=cart_of)
