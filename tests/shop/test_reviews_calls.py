"""How many DynamoDB round trips a like costs (reviews store against the moto server): the
product check, the existing-like check and the counts are one BatchGetItem."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

from reference_app.aws import dynamodb_client
from reference_app.config import Settings
from reference_app.errors import ApiError
from reference_app.reviews.store import ReviewStore

pytestmark = pytest.mark.integration


def _store(settings: Settings) -> tuple[ReviewStore, Counter[str]]:
    ddb = dynamodb_client(settings)
    calls: Counter[str] = Counter()

    def count(model: Any, **_kwargs: Any) -> None:
        calls[model.name] += 1

    ddb.meta.events.register("before-call.dynamodb", count)
    return ReviewStore(ddb, settings.tables.reviews, settings.tables.products), calls


def _new_product(settings: Settings) -> str:
    sku = f"CALLS-{uuid.uuid4().hex[:8]}"
    dynamodb_client(settings).put_item(
        TableName=settings.tables.products,
        Item={"ProductId": {"S": sku}, "TranId": {"S": "0"}, "Name": {"S": "calls"},
              "PriceCents": {"N": "100"}, "Qty": {"N": "1"}, "InitialQty": {"N": "1"}})
    return sku


def test_a_like_reads_once_before_it_writes(base_settings: Settings) -> None:
    sku = _new_product(base_settings)
    store, calls = _store(base_settings)

    created, first = store.add_like(sku, "shp-1")
    assert created and first["counts"] == {"reviews": 0, "likes": 1}
    assert sum(calls.values()) == 3, calls  # read, write, counts after it (was 4)
    assert calls["BatchGetItem"] == 1 and calls["TransactWriteItems"] == 1

    calls.clear()
    created, again = store.add_like(sku, "shp-1")
    assert not created and again["counts"] == {"reviews": 0, "likes": 1}
    assert dict(calls) == {"BatchGetItem": 1}  # an existing like: one call (was 3)

    created, other = store.add_like(sku, "shp-2")
    assert created and other["counts"]["likes"] == 2


def test_a_like_of_an_unknown_product_is_404_and_writes_nothing(base_settings: Settings
                                                                 ) -> None:
    store, calls = _store(base_settings)
    with pytest.raises(ApiError) as raised:
        store.add_like(f"NOPE-{uuid.uuid4().hex[:8]}", "shp-1")
    assert raised.value.status == 404 and raised.value.code == "product_not_found"
    assert "TransactWriteItems" not in calls
