"""shop-weekly-view on the reviews stream: the read view follows the COUNTS rows, never goes
backwards on an out-of-order redelivery, and never gains rows."""

from __future__ import annotations

from typing import Any

from reference_app.clock import iso_week
from reference_app.ddb import from_item, to_item
from reference_app.handlers import weekly_view
from tests.handlers.harness import Shop


def put_counts(shop: Shop, sku: str, reviews: int, likes: int) -> None:
    shop.ddb.put_item(TableName=shop.t.reviews, Item=to_item(
        {"ProductId": sku, "ItemId": "COUNTS", "Reviews": reviews, "Likes": likes}))


def view_row(shop: Shop, week: str, sku: str) -> dict[str, Any] | None:
    item = shop.ddb.get_item(TableName=shop.t.weekly, ConsistentRead=True,
                             Key={"Week": {"S": week}, "ProductId": {"S": sku}}).get("Item")
    return from_item(item)


def test_view_follows_counts_and_never_goes_backwards(shop: Shop) -> None:
    week = iso_week()
    shop.ddb.put_item(TableName=shop.t.weekly, Item=to_item({
        "Week": week, "ProductId": "SKU-1", "Name": "Kettle", "PriceCents": 1000,
        "SalePriceCents": 800, "Reviews": 1, "Likes": 2}))
    put_counts(shop, "SKU-1", 1, 2)
    shop.ddb.put_item(TableName=shop.t.reviews, Item=to_item({
        "ProductId": "SKU-1", "ItemId": "REVIEW#1#abc", "ShopperId": "s", "Rating": 5,
        "Text": "ok", "CreatedAt": 1}))
    put_counts(shop, "SKU-1", 2, 2)
    put_counts(shop, "SKU-1", 2, 3)
    put_counts(shop, "SKU-9", 4, 4)  # not in this week's view

    records = shop.pump_reviews(duplicates=2)
    assert len(records) == 5
    row = view_row(shop, week, "SKU-1")
    assert row is not None and (row["Reviews"], row["Likes"]) == (2, 3)
    assert row["Name"] == "Kettle" and row["SalePriceCents"] == 800

    # an out-of-order redelivery of the older images, newest last and first
    history = shop.tap(shop.t.reviews).history
    for batch in (history[:2], list(reversed(history))):
        assert weekly_view.handler({"Records": batch}, None) == {"batchItemFailures": []}
    row = view_row(shop, week, "SKU-1")
    assert row is not None and (row["Reviews"], row["Likes"]) == (2, 3)
    assert view_row(shop, week, "SKU-9") is None
    scanned = shop.ddb.scan(TableName=shop.t.weekly)["Items"]
    assert len(scanned) == 1
