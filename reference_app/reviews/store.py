"""Reviews and likes in `shop-reviews`, each written in one TransactWriteItems with the
product's COUNTS row, so counts are never aggregated at read time.

Only products of the catalog can be reviewed or liked: the product row is read first (the
catalog's `shop-products`, read-only here; products are never deleted, so a read is enough and
the transaction does not have to touch the catalog table).

A like is idempotent per shopper: `LIKE#<shopper_id>` is put with attribute_not_exists, and an
existing like is detected by a read first (moto's transactions are costly to cancel), with the
transaction's condition as the guard against a race. That read, the product check and the
COUNTS row are one BatchGetItem (the like and COUNTS rows consistent): a like costs three calls
(read, write, counts after it) and a repeated like one, where the reads one by one cost four
and three, each waiting for the last (likes were the browse mix's slowest write).

Lost races never become a 500:
- `TransactionConflict` (another transaction was writing the same COUNTS row): retried, at most
  `WRITE_ATTEMPTS` times with jittered back-off, then 409 `write_conflict`;
- the review's own Put failing its `attribute_not_exists(ItemId)` condition can only mean that
  an earlier attempt of this very call was applied (the SDK retries a write whose answer it did
  not get, and the item id is new for every call): the review is stored, which is success.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from reference_app.clock import now_ms
from reference_app.ddb import batch_get, cancellation_codes, from_item, to_attr, to_item
from reference_app.errors import ApiError

log = logging.getLogger(__name__)

COUNTS = "COUNTS"
PRODUCT_ROW = "0"
WRITE_ATTEMPTS = 5
BATCH_ATTEMPTS = 3
BACKOFF_BASE_S = 0.02
BACKOFF_CAP_S = 0.25


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

    def __init__(self, ddb: Any, table: str, products_table: str) -> None:
        self.ddb = ddb
        self.table = table
        self.products_table = products_table

    def require_product(self, sku: str) -> None:
        """404 `product_not_found` unless `sku` is a product of the catalog."""
        response = self.ddb.get_item(
            TableName=self.products_table,
            Key={"ProductId": {"S": sku}, "TranId": {"S": PRODUCT_ROW}},
            ProjectionExpression="ProductId")
        if "Item" not in response:
            raise ApiError(404, "product_not_found", f"no product {sku}", "sku")

    def counts(self, sku: str) -> dict[str, int]:
        response = self.ddb.get_item(
            TableName=self.table,
            Key={"ProductId": {"S": sku}, "ItemId": {"S": COUNTS}}, ConsistentRead=True)
        row = from_item(response.get("Item")) or {}
        return {"reviews": int(row.get("Reviews", 0)), "likes": int(row.get("Likes", 0))}

    def _has_item(self, sku: str, item_id: str) -> bool:
        response = self.ddb.get_item(
            TableName=self.table, Key={"ProductId": {"S": sku}, "ItemId": {"S": item_id}},
            ConsistentRead=True, ProjectionExpression="ItemId")
        return "Item" in response

    def _write(self, items: list[dict[str, Any]], already_done: Callable[[list[str]], bool]
               ) -> bool:
        """TransactWriteItems `items`, retrying transaction conflicts. Returns True when written
        now, False when `already_done(codes)` says a cancelled attempt found it done."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.ddb.transact_write_items(TransactItems=items)
                return True
            except Exception as exc:
                codes = cancellation_codes(exc)
                if not codes:
                    raise
                if already_done(codes):
                    return False
                if "TransactionConflict" not in codes:
                    raise
                log.info("review write conflicted (attempt %d of %d): %s", attempt,
                         WRITE_ATTEMPTS, codes)
            if attempt < WRITE_ATTEMPTS:
                time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt)))
        raise ApiError(409, "write_conflict",
                       "other writes to this product's counts kept conflicting; try again")

    def add_review(self, sku: str, shopper_id: str, rating: int, text: str) -> dict[str, Any]:
        self.require_product(sku)
        created_ms = now_ms()
        item_id = f"REVIEW#{created_ms}#{uuid.uuid4().hex}"
        row = {"ProductId": sku, "ItemId": item_id, "ShopperId": shopper_id, "Rating": rating,
               "Text": text, "CreatedAt": created_ms // 1000}

        def stored_by_an_earlier_attempt(codes: list[str]) -> bool:
            return codes[0] == "ConditionalCheckFailed" and self._has_item(sku, item_id)

        self._write([
            {"Put": {"TableName": self.table, "Item": to_item(row),
                     "ConditionExpression": "attribute_not_exists(ItemId)"}},
            _counts_update(self.table, sku, "Reviews"),
        ], stored_by_an_earlier_attempt)
        return {"review": {"review_id": item_id, "sku": sku, "shopper_id": shopper_id,
                           "rating": rating, "text": text, "created_at": created_ms // 1000},
                "counts": self.counts(sku)}

    def _like_state(self, sku: str, item_id: str) -> tuple[bool, bool, dict[str, int]] | None:
        """(product exists, like exists, counts) in one BatchGetItem; None when DynamoDB left
        keys unprocessed after a few tries (the caller reads them one by one)."""
        product_key = {"ProductId": {"S": sku}, "TranId": {"S": PRODUCT_ROW}}
        like_key = {"ProductId": {"S": sku}, "ItemId": {"S": item_id}}
        counts_key = {"ProductId": {"S": sku}, "ItemId": {"S": COUNTS}}
        request: dict[str, Any] = {
            self.products_table: {"Keys": [product_key], "ProjectionExpression": "ProductId"},
            self.table: {"Keys": [like_key, counts_key], "ConsistentRead": True},
        }
        rows, unprocessed, _ = batch_get(self.ddb, request, BATCH_ATTEMPTS,
                                         lambda attempt: BACKOFF_BASE_S * 2 ** attempt)
        if unprocessed:
            return None
        product = bool(rows.get(self.products_table))
        by_item = {row["ItemId"]["S"]: row for row in rows.get(self.table, [])}
        counts = from_item(by_item.get(COUNTS)) or {}
        return product, item_id in by_item, {"reviews": int(counts.get("Reviews", 0)),
                                             "likes": int(counts.get("Likes", 0))}

    def add_like(self, sku: str, shopper_id: str) -> tuple[bool, dict[str, Any]]:
        """(created, {"like", "counts"}); created is False when already liked."""
        like = {"sku": sku, "shopper_id": shopper_id}
        item_id = f"LIKE#{shopper_id}"
        state = self._like_state(sku, item_id)
        if state is None:  # throttled reads: one by one, as each call retries on its own
            self.require_product(sku)
            state = (True, self._has_item(sku, item_id), self.counts(sku))
        product, liked, counts = state
        if not product:
            raise ApiError(404, "product_not_found", f"no product {sku}", "sku")
        if liked:
            return False, {"like": like, "counts": counts}
        row = {"ProductId": sku, "ItemId": item_id, "ShopperId": shopper_id,
               "CreatedAt": now_ms() // 1000}
        created = self._write([
            {"Put": {"TableName": self.table, "Item": to_item(row),
                     "ConditionExpression": "attribute_not_exists(ItemId)"}},
            _counts_update(self.table, sku, "Likes"),
        ], lambda codes: codes[0] == "ConditionalCheckFailed")
        return created, {"like": like, "counts": self.counts(sku)}
