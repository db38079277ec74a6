"""The storefront's search cache (real Redis; DynamoDB answered by a recording stand-in, since
only the number of reads matters here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from reference_app.cache import Cache
from reference_app.config import Settings, TableNames
from reference_app.redis_conn import make_redis
from reference_app.storefront import catalog as catalog_module
from reference_app.storefront.catalog import CatalogService

PRODUCT = {"ProductId": {"S": "SKU-1"}, "TranId": {"S": "0"}, "Name": {"S": "Blue mug"},
           "Category": {"S": "kitchen"}, "PriceCents": {"N": "900"}}


class RecordingDynamoDB:
    """Answers the catalog's search reads: every word matches SKU-1."""

    def __init__(self) -> None:
        self.queries = 0

    def query(self, **_kwargs: Any) -> dict[str, Any]:
        self.queries += 1
        return {"Items": [{"ProductId": {"S": "SKU-1"}}]}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        (table,) = RequestItems
        return {"Responses": {table: [PRODUCT]}}


@pytest.fixture
def catalog(redis_url: str) -> Iterator[tuple[CatalogService, RecordingDynamoDB, Cache]]:
    client = make_redis(Settings(redis_url=f"{redis_url}/4"))
    cache = Cache(client, f"s{uuid.uuid4().hex[:6]}-", ttl_s=30)
    ddb = RecordingDynamoDB()
    yield CatalogService(ddb, TableNames("t-"), cache, reviews=None,  # type: ignore[arg-type]
                         search_ttl_s=Settings().search_cache_ttl_s), ddb, cache
    client.close()


def test_search_results_outlive_the_short_ttl_and_an_admin_update_still_invalidates_them(
        catalog: tuple[CatalogService, RecordingDynamoDB, Cache]) -> None:
    service, ddb, cache = catalog
    assert service.search(["mug"], 10)["items"][0]["sku"] == "SKU-1"
    assert service.search(["mug"], 5)["count"] == 1
    assert ddb.queries == 1
    [key] = cache.client.keys(f"{cache.prefix}cache:search:*")
    # kept for the search TTL, far beyond the 30 s of the other entries: words few shoppers
    # search for were a DynamoDB query every 30 s each (issue 11)
    assert cache.client.ttl(key) > 300
    assert Settings().search_cache_ttl_s > Settings().cache_ttl_s

    cache.bump("search")  # what an admin product update does
    service.search(["mug"], 10)
    assert ddb.queries == 2


def test_a_search_entry_belongs_to_its_iso_week(
        catalog: tuple[CatalogService, RecordingDynamoDB, Cache],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sale prices change with the ISO week: an entry loaded last week is not served."""
    service, ddb, _cache = catalog
    monkeypatch.setattr(catalog_module, "iso_week", lambda: "2026-W48")
    service.search(["mug"], 10)
    service.search(["mug"], 10)
    monkeypatch.setattr(catalog_module, "iso_week", lambda: "2026-W49")
    service.search(["mug"], 10)
    assert ddb.queries == 2
