"""The orders repository: the order row written at checkout, its moves while the checkout is
open, and its public JSON form.

An order is written before its payment is authorised, in status AUTHORIZING with
`CheckoutOpen = "1"` (the key of the sparse `open-checkouts` index the sweeper reads). Once
payments has authorised it, it becomes PENDING and `CheckoutOpen` is removed; the saga takes it
from there. A checkout that failed before anything was charged deletes its AUTHORIZING row;
one whose authorise may have happened cancels it (CHECKOUT_FAILED): the saga voids the payment.
"""

from __future__ import annotations

from typing import Any

from reference_app.clock import now_s
from reference_app.ddb import from_item, is_condition_failure, to_attr, to_item

STATUS_AUTHORIZING = "AUTHORIZING"
STATUS_PENDING = "PENDING"
STATUS_CANCELLED = "CANCELLED"
CHECKOUT_OPEN = "1"
# cancelled before the checkout was accepted: by checkout itself (payments did not answer in
# time) or by the sweeper (the checkout stayed open); such an order does not use up its key
CHECKOUT_FAILED = "CHECKOUT_FAILED"
CHECKOUT_TIMEOUT = "CHECKOUT_TIMEOUT"
NOT_ACCEPTED = (CHECKOUT_FAILED, CHECKOUT_TIMEOUT)


class OrderRepository:
    """Reads and conditional writes of `shop-orders` done by the storefront."""

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def put_new(self, order: dict[str, Any]) -> dict[str, Any]:
        """The TransactWriteItems `Put` of a new order (fails if the id exists)."""
        return {"Put": {
            "TableName": self.table,
            "Item": to_item(order),
            "ConditionExpression": "attribute_not_exists(OrderId)",
        }}

    def delete_authorizing(self, order_id: str) -> dict[str, Any]:
        """The TransactWriteItems `Delete` of an order whose checkout failed before any charge
        (only while it is still AUTHORIZING)."""
        return {"Delete": {
            "TableName": self.table,
            "Key": {"OrderId": {"S": order_id}},
            "ConditionExpression": "#s = :authorizing",
            "ExpressionAttributeNames": {"#s": "Status"},
            "ExpressionAttributeValues": {":authorizing": to_attr(STATUS_AUTHORIZING)},
        }}

    def cancel_authorizing(self, order_id: str) -> dict[str, Any]:
        """The TransactWriteItems `Update` cancelling an order whose authorise may or may not
        have happened (CancelReason CHECKOUT_FAILED; the saga voids what payments holds)."""
        return {"Update": {
            "TableName": self.table,
            "Key": {"OrderId": {"S": order_id}},
            "UpdateExpression": "SET #s = :cancelled, CancelReason = :reason, UpdatedAt = :now, "
                                "Version = Version + :one REMOVE CheckoutOpen",
            "ConditionExpression": "#s = :authorizing",
            "ExpressionAttributeNames": {"#s": "Status"},
            "ExpressionAttributeValues": {
                ":cancelled": to_attr(STATUS_CANCELLED), ":reason": to_attr(CHECKOUT_FAILED),
                ":authorizing": to_attr(STATUS_AUTHORIZING), ":now": to_attr(now_s()),
                ":one": to_attr(1)},
        }}

    def accept(self, order_id: str) -> bool:
        """AUTHORIZING -> PENDING (the payment is authorised); False when the order was no
        longer AUTHORIZING (accepted by a concurrent retry, or cancelled by the sweeper)."""
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"OrderId": {"S": order_id}},
                UpdateExpression="SET #s = :pending, UpdatedAt = :now, "
                                 "Version = Version + :one REMOVE CheckoutOpen",
                ConditionExpression="#s = :authorizing",
                ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={
                    ":pending": to_attr(STATUS_PENDING),
                    ":authorizing": to_attr(STATUS_AUTHORIZING),
                    ":now": to_attr(now_s()), ":one": to_attr(1)},
            )
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def get(self, order_id: str) -> dict[str, Any] | None:
        response = self.ddb.get_item(TableName=self.table, Key={"OrderId": {"S": order_id}},
                                     ConsistentRead=True)
        return from_item(response.get("Item"))


def public_order(row: dict[str, Any]) -> dict[str, Any]:
    """An order row as the API shows it to its owner."""
    return {
        "order_id": row["OrderId"],
        "status": row.get("Status"),
        "items": [{"sku": line["Sku"], "qty": int(line["Qty"]),
                   "price_cents": int(line["PriceCents"])} for line in row.get("Items", [])],
        "amount_cents": int(row.get("AmountCents", 0)),
        "cancel_reason": row.get("CancelReason"),
        "created_at": row.get("CreatedAt"),
        "updated_at": row.get("UpdatedAt"),
    }
