"""The orders repository: the order row written at checkout and its public JSON form."""

from __future__ import annotations

from typing import Any

from reference_app.ddb import from_item, to_item

STATUS_PENDING = "PENDING"


class OrderRepository:
    """Reads and the transactional put of `shop-orders`."""

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
