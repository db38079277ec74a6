"""The saga exporter reads the final orders once: later scans read only the orders not final
yet and those updated since (against the handlers' moto, whose scan holds the DynamoDB lock)."""

from __future__ import annotations

import time

from local_stack.saga_exporter import SagaExporter
from reference_app.ddb import to_item
from tests.handlers.conftest import Shop


def _order(order_id: str, status: str, updated: int) -> dict[str, object]:
    return to_item({"OrderId": order_id, "Status": status, "Owner": "s", "CreatedAt": updated,
                    "UpdatedAt": updated, "Items": [{"Sku": "SKU-00001", "Qty": 1}]})


def test_final_orders_are_read_once_and_changes_are_seen(shop: Shop) -> None:
    table = shop.settings.tables.orders
    old = int(time.time()) - 3600
    for n in range(30):
        shop.ddb.put_item(TableName=table, Item=_order(f"done-{n}", "COMPLETED", old))
    shop.ddb.put_item(TableName=table, Item=_order("live", "PENDING", old))
    exporter = SagaExporter(shop.settings)
    first = exporter.scan_once()
    assert first.orders["COMPLETED"] == 30 and first.in_flight == 1
    assert exporter.rows_read == 31  # the first scan is a full one

    shop.ddb.update_item(TableName=table, Key={"OrderId": {"S": "live"}},
                         UpdateExpression="SET #s = :c, UpdatedAt = :now",
                         ExpressionAttributeNames={"#s": "Status"},
                         ExpressionAttributeValues={":c": {"S": "COMPLETED"},
                                                    ":now": {"N": str(int(time.time()))}})
    shop.ddb.put_item(TableName=table, Item=_order("new", "AUTHORIZING", int(time.time())))
    second = exporter.scan_once()
    assert second.orders["COMPLETED"] == 31 and second.orders["AUTHORIZING"] == 1
    assert second.in_flight == 1
    assert exporter.rows_read == 2  # the order that became final and the new one, not all 32
