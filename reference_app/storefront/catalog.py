"""Catalog reads and writes of the storefront: product detail (with review/like counts from the
reviews service, behind its breaker), keyword search, the weekly-products read view, admin
product updates, and review/like writes forwarded to the reviews service.

All reads are cache-aside (reference_app.cache):
- `product:<sku>` — the product row, TTL; deleted by admin updates.
- `counts:<sku>` — counts from the reviews service, TTL; deleted by review/like writes. The last
  counts seen are also kept without TTL (`counts-last:<sku>`) as the fallback when the reviews
  service is down or its breaker open; then the answer says `"counts_stale": true`.
- `search`, `weekly` — generational: admin updates bump them. A search entry is keyed by its
  words and the ISO week (sale prices change with the week) and kept `search_ttl_s`
  (SHOP_SEARCH_CACHE_TTL_S, 600 s): the bump is what invalidates it, so its TTL only bounds
  memory. With the 30 s of the other caches, most searches for words off the beaten track (a
  third of the load test's) missed, and each miss is a DynamoDB query per word (issue 11).
  The weekly page keeps the short TTL: its review and like counts change without a bump.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from reference_app.breaker import DependencyUnavailable
from reference_app.cache import Cache
from reference_app.clock import iso_week, now_s
from reference_app.config import TableNames
from reference_app.ddb import from_item, is_condition_failure, to_attr
from reference_app.dependency_errors import DependencyRejected
from reference_app.errors import ApiError
from reference_app.storefront.reviews_client import ReviewsClient

log = logging.getLogger(__name__)

PRODUCT_ROW = "0"
MAX_QUERY_WORDS = 5
_QUERY_WORD = re.compile(r"^[a-z0-9-]{1,40}$")
WEEKLY_LIMIT = 20
SEARCH_CACHED_ITEMS = 50  # the API's largest `limit`


def effective_price(row: dict[str, Any], week: str | None = None) -> int:
    """The price a shopper pays now: the sale price when on sale this ISO week."""
    if row.get("OnSaleWeek") == (week or iso_week()) and row.get("SalePriceCents") is not None:
        return int(row["SalePriceCents"])
    return int(row["PriceCents"])


def public_product(row: dict[str, Any]) -> dict[str, Any]:
    """A product row as the API shows it (prices in cents, sale only in its week)."""
    on_sale = row.get("OnSaleWeek") == iso_week() and row.get("SalePriceCents") is not None
    return {
        "sku": row["ProductId"],
        "name": row.get("Name"),
        "description": row.get("Description"),
        "category": row.get("Category"),
        "keywords": list(row.get("Keywords") or []),
        "price_cents": int(row["PriceCents"]),
        "sale_price_cents": int(row["SalePriceCents"]) if on_sale else None,
        "on_sale": on_sale,
        "qty_available": int(row.get("Qty", 0)),
    }


def product_summary(row: dict[str, Any]) -> dict[str, Any]:
    """The short form used in search results."""
    full = public_product(row)
    return {key: full[key] for key in
            ("sku", "name", "category", "price_cents", "sale_price_cents", "on_sale")}


def parse_query(q: str | None) -> list[str]:
    """Search words of `q` (lower-cased, 1..5 words of [a-z0-9-]); 400 naming `q` otherwise."""
    if q is None or not q.strip():
        raise ApiError(400, "missing_field", "query parameter 'q' is required", "q")
    words = sorted(set(q.lower().split()))
    if len(words) > MAX_QUERY_WORDS:
        raise ApiError(400, "invalid_value", f"q: at most {MAX_QUERY_WORDS} words", "q")
    for word in words:
        if not _QUERY_WORD.fullmatch(word):
            raise ApiError(400, "invalid_value",
                           "q: words may only hold letters, digits and '-' (40 at most)", "q")
    return words


class CatalogService:
    """Catalog operations over DynamoDB, the cache and the reviews service."""

    def __init__(self, ddb: Any, tables: TableNames, cache: Cache,
                 reviews: ReviewsClient, search_ttl_s: int | None = None) -> None:
        self.ddb = ddb
        self.tables = tables
        self.cache = cache
        self.reviews = reviews
        self.search_ttl_s = search_ttl_s

    # -- DynamoDB reads ---------------------------------------------------------------------
    def product_row(self, sku: str, consistent: bool = False) -> dict[str, Any] | None:
        response = self.ddb.get_item(
            TableName=self.tables.products,
            Key={"ProductId": {"S": sku}, "TranId": {"S": PRODUCT_ROW}},
            ConsistentRead=consistent,
        )
        return from_item(response.get("Item"))

    def product_rows(self, skus: list[str], consistent: bool = False) -> dict[str, dict[str, Any]]:
        """Product rows by SKU (absent SKUs are missing from the result)."""
        rows: dict[str, dict[str, Any]] = {}
        unique = sorted(set(skus))
        for start in range(0, len(unique), 100):
            keys = [{"ProductId": {"S": sku}, "TranId": {"S": PRODUCT_ROW}}
                    for sku in unique[start:start + 100]]
            request: dict[str, Any] = {
                self.tables.products: {"Keys": keys, "ConsistentRead": consistent}}
            while request:
                response = self.ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.tables.products, []):
                    row = from_item(item) or {}
                    rows[row["ProductId"]] = row
                request = response.get("UnprocessedKeys") or {}
        return rows

    def _skus_for_word(self, word: str) -> set[str]:
        skus: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.tables.keywords,
            "KeyConditionExpression": "Keyword = :w",
            "ExpressionAttributeValues": {":w": {"S": word}},
            "ProjectionExpression": "ProductId",
        }
        while True:
            response = self.ddb.query(**kwargs)
            skus.update(item["ProductId"]["S"] for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return skus
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- cached reads -----------------------------------------------------------------------
    def cached_product_row(self, sku: str) -> dict[str, Any] | None:
        return self.cache.get_or_load("product", sku, lambda: self.product_row(sku))

    def require_product(self, sku: str) -> dict[str, Any]:
        row = self.cached_product_row(sku)
        if row is None:
            raise ApiError(404, "product_not_found", f"no product {sku}", "sku")
        return row

    def _live_counts(self, sku: str) -> dict[str, int]:
        counts = self.reviews.counts(sku)
        self.cache.remember("counts-last", sku, counts)
        return counts

    def counts(self, sku: str) -> tuple[dict[str, int] | None, bool]:
        """(counts, stale): fresh when the reviews service answers (or the cache has them),
        else the last known counts (stale), else (None, True)."""
        try:
            counts = self.cache.get_or_load("counts", sku, lambda: self._live_counts(sku))
            return counts, False
        except (DependencyUnavailable, DependencyRejected) as exc:
            log.info("review counts of %s unavailable (%s); using last known", sku, exc.message)
            return self.cache.recall("counts-last", sku), True

    def product_detail(self, sku: str) -> dict[str, Any]:
        detail = public_product(self.require_product(sku))
        counts, stale = self.counts(sku)
        detail["reviews"] = counts["reviews"] if counts else None
        detail["likes"] = counts["likes"] if counts else None
        detail["counts_stale"] = stale
        return detail

    def search(self, words: list[str], limit: int) -> dict[str, Any]:
        """The first `limit` (at most SEARCH_CACHED_ITEMS) products matching every word.

        One cache entry per set of words, holding the first SEARCH_CACHED_ITEMS results: every
        limit asked for is a slice of it (an entry per limit made each query miss once per
        limit, and misses are the DynamoDB queries)."""
        def load() -> dict[str, Any]:
            matches: set[str] | None = None
            for word in words:
                found = self._skus_for_word(word)
                matches = found if matches is None else matches & found
                if not matches:
                    break
            ordered = sorted(matches or set())
            first = ordered[:SEARCH_CACHED_ITEMS]
            rows = self.product_rows(first)
            items = [product_summary(rows[sku]) for sku in first if sku in rows]
            return {"items": items, "total": len(ordered)}

        key = f"{'+'.join(words)}@{iso_week()}"
        found = self.cache.get_or_load("search", key, load, ttl_s=self.search_ttl_s,
                                       generational=True) or {}
        items = list(found.get("items") or [])[:limit]
        return {"items": items, "count": len(items), "total": int(found.get("total") or 0)}

    def weekly(self) -> dict[str, Any]:
        week = iso_week()

        def load() -> dict[str, Any]:
            response = self.ddb.query(
                TableName=self.tables.weekly,
                KeyConditionExpression="Week = :w",
                ExpressionAttributeValues={":w": {"S": week}},
                Limit=WEEKLY_LIMIT,
            )
            items = []
            for item in response.get("Items", []):
                row = from_item(item) or {}
                items.append({
                    "sku": row["ProductId"], "name": row.get("Name"),
                    "price_cents": row.get("PriceCents"),
                    "sale_price_cents": row.get("SalePriceCents"),
                    "reviews": row.get("Reviews", 0), "likes": row.get("Likes", 0),
                })
            return {"week": week, "items": items}

        return self.cache.get_or_load("weekly", week, load, generational=True) or {}

    # -- writes -----------------------------------------------------------------------------
    def update_product(self, sku: str, price_cents: int | None, qty: int | None) -> dict[str, Any]:
        """Admin change of price and/or stock on hand.

        A restock sets `Qty` and shifts `InitialQty` by the same amount, so the audit's
        conservation (InitialQty = Qty + sold - released) still holds; the shift is a
        read-modify-write guarded by `Qty = :old` (OCC), since the saga moves `Qty` too.
        """
        for _attempt in range(8):
            sets = ["LastUpdate = :now"]
            values: dict[str, Any] = {":now": to_attr(now_s())}
            condition = "attribute_exists(ProductId)"
            if price_cents is not None:
                sets.append("PriceCents = :price")
                values[":price"] = to_attr(price_cents)
            if qty is not None:
                current = self.product_rows([sku], consistent=True).get(sku)
                if current is None:
                    raise ApiError(404, "product_not_found", f"no product {sku}", "sku")
                old = int(current.get("Qty", 0))
                sets += ["Qty = :qty", "InitialQty = InitialQty + :delta"]
                values[":qty"] = to_attr(qty)
                values[":delta"] = to_attr(qty - old)
                values[":old"] = to_attr(old)
                condition += " AND Qty = :old"
            try:
                response = self.ddb.update_item(
                    TableName=self.tables.products,
                    Key={"ProductId": {"S": sku}, "TranId": {"S": PRODUCT_ROW}},
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            except Exception as exc:
                if is_condition_failure(exc):
                    if qty is None:
                        raise ApiError(404, "product_not_found", f"no product {sku}",
                                       "sku") from exc
                    continue  # stock moved under us (or the product went away): read again
                raise
            self.cache.invalidate("product", sku)
            self.cache.bump("search")
            self.cache.bump("weekly")
            return public_product(from_item(response["Attributes"]) or {})
        raise ApiError(409, "stock_conflict", f"stock of {sku} kept changing; try again", "qty")

    def _after_counts_change(self, sku: str, counts: dict[str, Any] | None) -> None:
        self.cache.invalidate("counts", sku)
        if counts:
            self.cache.remember("counts-last", sku, {"reviews": int(counts["reviews"]),
                                                     "likes": int(counts["likes"])})

    def add_review(self, sku: str, shopper_id: str, rating: int, text: str) -> dict[str, Any]:
        self.require_product(sku)
        body = self.reviews.add_review(sku, shopper_id, rating, text)
        self._after_counts_change(sku, body.get("counts"))
        return body

    def add_like(self, sku: str, shopper_id: str) -> tuple[bool, dict[str, Any]]:
        self.require_product(sku)
        created, body = self.reviews.add_like(sku, shopper_id)
        self._after_counts_change(sku, body.get("counts"))
        return created, body
