"""Reviews and likes in `shop-reviews`, each written in one TransactWriteItems with the
product's COUNTS row, so counts are never aggregated at read time.

A like is idempotent per shopper: `LIKE#<shopper_id>` is put with attribute_not_exists, and an
existing like is detected by a read first (moto's transactions are costly to cancel), with the
transaction's condition as the guard against a race.
"""

from __future__ import annotations

import uuid
from typing import Any

from reference_app.clock import now_ms
from reference_app.ddb import cancellation_codes, from_item, to_attr, to_item

COUNTS = "COUNTS"


def _counts_update(table: str, sku: str, attribute: str) -> dict[str, Any]:
    other = "Likes" if attribute == "Reviews" else "Reviews"
    return {"Update": {
        "TableName": table,
        "Key": {"ProductId": {"S": sku}, "ItemId": {"S": COUNTS}},
        "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one, "
                            "#o = if_not_exists(#o, :zero)",
        "ExpressionAttributeNames": {"#n": attribute, "#o": other},
        "ExpressionAttributeValues": {":zero": to_attr(0), ":one": to_attr(1)},
    }}


class ReviewStore:
    """Writes and count reads of one table."""

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def counts(self, sku: str) -> dict[str, int]:
        response = self.ddb.get_item(
            TableName=self.table,
            Key={"ProductId": {"S": sku}, "ItemId": {"S": COUNTS}}, ConsistentRead=True)
        row = from_item(response.get("Item")) or {}
        return {"reviews": int(row.get("Reviews", 0)), "likes": int(row.get("Likes", 0))}

    def add_review(self, sku: str, shopper_id: str, rating: int, text: str) -> dict[str, Any]:
        created_ms = now_ms()
        item_id = f"REVIEW#{created_ms}#{uuid.uuid4().hex}"
        row = {"ProductId": sku, "ItemId": item_id, "ShopperId": shopper_id, "Rating": rating,
               "Text": text, "CreatedAt": created_ms // 1000}
        self.ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.table, "Item": to_item(row),
                     "ConditionExpression": "attribute_not_exists(ItemId)"}},
            _counts_update(self.table, sku, "Reviews"),
        ])
        return {"review": {"review_id": item_id, "sku": sku, "shopper_id": shopper_id,
                           "rating": rating, "text": text, "created_at": created_ms // 1000},
                "counts": self.counts(sku)}

    def _has_like(self, sku: str, shopper_id: str) -> bool:
        response = self.ddb.get_item(
            TableName=self.table,
            Key={"ProductId": {"S": sku}, "ItemId": {"S": f"LIKE#{shopper_id}"}},
            ConsistentRead=True, ProjectionExpression="ItemId")
        return "Item" in response

    def add_like(self, sku: str, shopper_id: str) -> tuple[bool, dict[str, Any]]:
        """(created, {"like", "counts"}); created is False when already liked."""
        like = {"sku": sku, "shopper_id": shopper_id}
        if self._has_like(sku, shopper_id):
            return False, {"like": like, "counts": self.counts(sku)}
        row = {"ProductId": sku, "ItemId": f"LIKE#{shopper_id}", "ShopperId": shopper_id,
               "CreatedAt": now_ms() // 1000}
        try:
            self.ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": to_item(row),
                         "ConditionExpression": "attribute_not_exists(ItemId)"}},
                _counts_update(self.table, sku, "Likes"),
            ])
        except Exception as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False, {"like": like, "counts": self.counts(sku)}
            raise
        return True, {"like": like, "counts": self.counts(sku)}
