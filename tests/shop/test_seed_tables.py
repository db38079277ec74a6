"""Tables and the deterministic catalog seed, against the moto server."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reference_app.aws import dynamodb_client
from reference_app.clock import iso_week
from reference_app.config import Settings, TableNames
from reference_app.ddb import scan_items
from reference_app.seed import seed_catalog
from reference_app.tables import create_tables, table_specs

pytestmark = pytest.mark.integration
PRODUCTS = 25


def _snapshot(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    ddb = dynamodb_client(settings)
    names = settings.tables
    out = {}
    for table in (names.products, names.keywords, names.reviews, names.weekly):
        rows = [{k: v for k, v in row.items() if k != "LastUpdate"}
                for row in scan_items(ddb, table)]
        out[table.removeprefix(names.prefix)] = sorted(rows, key=repr)
    return out


@pytest.fixture(scope="module")
def two_seeds(aws_endpoint: str) -> tuple[Settings, Settings, dict[str, Any], dict[str, Any]]:
    first = Settings(aws_endpoint_url=aws_endpoint, tables=TableNames("seed-a-"))
    second = dataclasses.replace(first, tables=TableNames("seed-b-"))
    for settings in (first, second):
        create_tables(settings)
        create_tables(settings)  # idempotent
    summary_a = seed_catalog(first, seed=11, products=PRODUCTS)
    summary_b = seed_catalog(second, seed=11, products=PRODUCTS)
    return first, second, summary_a, summary_b


def test_tables_have_streams_and_on_demand(two_seeds: tuple) -> None:
    settings = two_seeds[0]
    ddb = dynamodb_client(settings)
    for spec in table_specs(settings.tables):
        table = ddb.describe_table(TableName=spec.name)["Table"]
        assert table["StreamSpecification"] == {"StreamEnabled": True,
                                                "StreamViewType": "NEW_AND_OLD_IMAGES"}
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert [k["AttributeName"] for k in table["KeySchema"]] == \
            [spec.hash_key] + ([spec.range_key] if spec.range_key else [])


def test_same_seed_same_rows(two_seeds: tuple) -> None:
    first, second, summary_a, summary_b = two_seeds
    assert summary_a == summary_b
    assert _snapshot(first) == _snapshot(second)


def test_summary_matches_the_rows(two_seeds: tuple) -> None:
    settings, _, summary, _ = two_seeds
    rows = _snapshot(settings)
    products = [r for r in rows["products"] if r["TranId"] == "0"]
    assert summary["products"] == len(products) == PRODUCTS
    assert [p["ProductId"] for p in sorted(products, key=lambda p: p["ProductId"])][:2] == \
        ["SKU-00001", "SKU-00002"]
    assert summary["initial_stock_total"] == sum(p["Qty"] for p in products)
    assert all(p["Qty"] == p["InitialQty"] for p in products)
    assert all(p["Keywords"] and all(k == k.lower() for k in p["Keywords"]) for p in products)
    on_sale = [p for p in products if "OnSaleWeek" in p]
    assert summary["on_sale"] == len(on_sale) == min(20, PRODUCTS)
    assert all(p["OnSaleWeek"] == iso_week() and p["SalePriceCents"] < p["PriceCents"]
               for p in on_sale)
    assert summary["keyword_rows"] == len(rows["keywords"]) == \
        sum(len(p["Keywords"]) for p in products)
    reviews = rows["reviews"]
    assert summary["reviews"] == sum(r["ItemId"].startswith("REVIEW#") for r in reviews)
    assert summary["likes"] == sum(r["ItemId"].startswith("LIKE#") for r in reviews)
    counts = {r["ProductId"]: r for r in reviews if r["ItemId"] == "COUNTS"}
    assert set(counts) == {p["ProductId"] for p in products}
    for sku, row in counts.items():
        assert row["Reviews"] == sum(r["ProductId"] == sku and r["ItemId"].startswith("REVIEW#")
                                     for r in reviews)
        assert row["Likes"] == sum(r["ProductId"] == sku and r["ItemId"].startswith("LIKE#")
                                   for r in reviews)
    weekly = rows["weekly-products"]
    assert summary["weekly_rows"] == len(weekly) == len(on_sale)
    for row in weekly:
        assert row["Week"] == iso_week()
        assert (row["Reviews"], row["Likes"]) == (counts[row["ProductId"]]["Reviews"],
                                                  counts[row["ProductId"]]["Likes"])


def test_other_seed_other_catalog(aws_endpoint: str, two_seeds: tuple) -> None:
    other = Settings(aws_endpoint_url=aws_endpoint, tables=TableNames("seed-c-"))
    create_tables(other)
    summary = seed_catalog(other, seed=12, products=PRODUCTS)
    assert summary["initial_stock_total"] != two_seeds[2]["initial_stock_total"]
    with pytest.raises(ValueError):
        seed_catalog(other, products=0)
