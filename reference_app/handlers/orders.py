"""Order-row helpers shared by the saga handlers: statuses, consistent reads, the conditional
status transition, the items of an order as sku -> quantity, and the order-outcome metrics."""

from __future__ import annotations

from typing import Any

from reference_app import cloudwatch as cw
from reference_app.clock import now_s
from reference_app.ddb import from_item, is_condition_failure, to_attr
from reference_app.handlers import batch_reads
from reference_app.handlers.common import aws, count_metric, settings
from reference_app.metrics import ORDERS

AUTHORIZING = "AUTHORIZING"  # written by checkout before the charge; PENDING once authorised
PENDING = "PENDING"
RESERVED = "RESERVED"
PAID = "PAID"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
TERMINAL = (COMPLETED, CANCELLED)

OUT_OF_STOCK = "OUT_OF_STOCK"
PAYMENT_FAILED = "PAYMENT_FAILED"


def count_order_event(status: str) -> None:
    """Count an order reaching COMPLETED or CANCELLED: `shop_orders_total{status}` and the
    CloudWatch metric OrdersCompleted / OrdersCancelled (docs/shop.md, Metrics)."""
    label = "completed" if status == COMPLETED else "cancelled"
    ORDERS.labels(label).inc()
    count_metric(cw.ORDERS_COMPLETED if status == COMPLETED else cw.ORDERS_CANCELLED)


class MalformedOrder(ValueError):
    """The order's item list cannot be read (a line without Sku, a Qty that is no integer)."""


def order_items(order: dict[str, Any]) -> dict[str, int]:
    """The order's `Items` as sku -> total quantity (a sku listed twice is summed, because a
    transaction may touch each product row only once); MalformedOrder when it is unreadable."""
    totals: dict[str, int] = {}
    for line in order.get("Items") or []:
        try:
            sku = str(line["Sku"])
            qty = line["Qty"]
            if isinstance(qty, bool) or int(qty) != qty:
                raise ValueError(f"Qty {qty!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedOrder(f"order {order.get('OrderId')} has a malformed item line "
                                 f"{line!r}: {exc}") from exc
        totals[sku] = totals.get(sku, 0) + int(qty)
    return totals


def order_key(order_id: str) -> tuple[str, dict[str, Any]]:
    """(table, key) of the order row, as a handler's prefetch names it (batch_reads)."""
    return settings().tables.orders, {"OrderId": {"S": order_id}}


def get_order(order_id: str) -> dict[str, Any] | None:
    """The order row, read consistently (None when it does not exist): the batch's prefetched
    row the first time it is asked for in an invocation, else GetItem (batch_reads)."""
    return from_item(batch_reads.consistent_item(aws("dynamodb"), *order_key(order_id)))


def status_update(order_id: str, to_status: str, expected: str | None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An UpdateItem request (usable in a transaction) moving the order to `to_status`,
    conditional on `Status = expected` (no condition when expected is None)."""
    sets = ["#s = :to", "UpdatedAt = :now", "Version = if_not_exists(Version, :zero) + :one"]
    values: dict[str, Any] = {":to": to_attr(to_status), ":now": to_attr(now_s()),
                              ":zero": to_attr(0), ":one": to_attr(1)}
    names = {"#s": "Status"}
    for index, (name, value) in enumerate(sorted((extra or {}).items())):
        names[f"#x{index}"] = name
        values[f":x{index}"] = to_attr(value)
        sets.append(f"#x{index} = :x{index}")
    request: dict[str, Any] = {
        "TableName": settings().tables.orders,
        "Key": {"OrderId": {"S": order_id}},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if expected is not None:
        request["ConditionExpression"] = "#s = :expected"
        values[":expected"] = to_attr(expected)
    return request


def transition(order_id: str, to_status: str, expected: str,
               extra: dict[str, Any] | None = None) -> bool:
    """Move the order from `expected` to `to_status`; False when it was not in `expected`
    (someone - usually an earlier delivery of the same record - already moved it)."""
    try:
        aws("dynamodb").update_item(**status_update(order_id, to_status, expected, extra))
    except Exception as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
