"""The shop's DynamoDB tables (docs/shop.md, "Data model") and an idempotent `create_tables`.

Every table is on-demand (PAY_PER_REQUEST) and streams NEW_AND_OLD_IMAGES, because the saga
and the read views are driven from the streams.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from reference_app.aws import dynamodb_client
from reference_app.config import Settings, TableNames
from reference_app.ddb import error_code

log = logging.getLogger(__name__)


# Sparse index of the orders whose checkout is still open (Status AUTHORIZING): only those rows
# carry `CheckoutOpen`, so the sweeper reads a handful of rows, not the table.
OPEN_CHECKOUTS_INDEX = "open-checkouts"


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index: string partition key, number sort key, keys-only."""

    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True)
class TableSpec:
    """Key schema of one table: a string partition key, an optional string sort key and
    optional global secondary indexes."""

    name: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[IndexSpec, ...] = ()

    def create_request(self) -> dict[str, Any]:
        keys = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        attrs = [{"AttributeName": self.hash_key, "AttributeType": "S"}]
        if self.range_key:
            keys.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
            attrs.append({"AttributeName": self.range_key, "AttributeType": "S"})
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeySchema": keys,
            "AttributeDefinitions": attrs,
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }
        for index in self.indexes:
            attrs += [{"AttributeName": index.hash_key, "AttributeType": "S"},
                      {"AttributeName": index.range_key, "AttributeType": "N"}]
            request.setdefault("GlobalSecondaryIndexes", []).append({
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.hash_key, "KeyType": "HASH"},
                              {"AttributeName": index.range_key, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            })
        return request


def table_specs(tables: TableNames) -> list[TableSpec]:
    """All shop tables with their keys, in the order they are created."""
    return [
        TableSpec(tables.products, "ProductId", "TranId"),
        TableSpec(tables.keywords, "Keyword", "ProductId"),
        TableSpec(tables.reviews, "ProductId", "ItemId"),
        TableSpec(tables.weekly, "Week", "ProductId"),
        TableSpec(tables.carts, "CartId"),
        TableSpec(tables.orders, "OrderId",
                  indexes=(IndexSpec(OPEN_CHECKOUTS_INDEX, "CheckoutOpen", "CreatedAt"),)),
        TableSpec(tables.payments, "IdempotencyKey"),
    ]


def create_tables(settings: Settings) -> None:
    """Create every shop table that does not exist yet and wait until all are ACTIVE.

    Existing tables are left as they are (their data is kept), so this is safe to run twice.
    """
    ddb = dynamodb_client(settings)
    specs = table_specs(settings.tables)
    for spec in specs:
        try:
            ddb.create_table(**spec.create_request())
            log.info("created table %s", spec.name)
        except Exception as exc:
            if error_code(exc) != "ResourceInUseException":
                raise
            log.info("table %s already exists", spec.name)
    waiter = ddb.get_waiter("table_exists")
    for spec in specs:
        waiter.wait(TableName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
