"""Test harness of the stream handlers: read the real DynamoDB Streams records from moto and turn
them into Lambda events, place orders the way the storefront's checkout does, and pump the
saga (each Lambda function gets every batch, in stream order, as its event source mapping
would deliver it)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from reference_app.config import Settings
from reference_app.ddb import from_item, to_attr, to_item
from reference_app.handlers import inventory, order_completion, payment, second_look, weekly_view
from reference_app.tokens import issue_token

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ORDER_HANDLERS: list[tuple[str, Handler]] = [
    ("shop-inventory", inventory.handler),
    ("shop-payment", payment.handler),
    ("shop-order-completion", order_completion.handler),
]


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda's DynamoDB event source mapping delivers."""
    ddb = dict(record["dynamodb"])
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        ddb["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "dynamodb": ddb,
        "eventSourceARN": stream_arn,
    }


class StreamTap:
    """Reads one table's stream incrementally (every shard, from TRIM_HORIZON).

    A fresh iterator (AFTER_SEQUENCE_NUMBER of the last record read) is taken for every read:
    moto replaces a table by a deep copy of itself when a TransactWriteItems is cancelled, and
    an iterator taken before that keeps reading the replaced shard (records of the cancelled
    transaction, nothing written afterwards). AWS has no such artefact.
    """

    def __init__(self, ddb: Any, streams: Any, table: str) -> None:
        self.streams = streams
        self.arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.last_seq: dict[str, str] = {}
        self.history: list[dict[str, Any]] = []

    def _iterator(self, shard_id: str) -> str:
        kwargs: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard_id,
                                  "ShardIteratorType": "TRIM_HORIZON"}
        if shard_id in self.last_seq:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                          SequenceNumber=self.last_seq[shard_id])
        return self.streams.get_shard_iterator(**kwargs)["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        """Records written since the last read, as Lambda event records."""
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        out: list[dict[str, Any]] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            iterator = self._iterator(shard_id)
            while True:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = page["NextShardIterator"]
                out.extend(lambda_record(r, self.arn) for r in page["Records"])
                if not page["Records"]:
                    break
                self.last_seq[shard_id] = page["Records"][-1]["dynamodb"]["SequenceNumber"]
        self.history.extend(out)
        return out

    def find(self, event_name: str, **new_values: Any) -> list[dict[str, Any]]:
        """Records read so far with this event name whose new image has these values."""
        def matches(record: dict[str, Any]) -> bool:
            image = from_item(record["dynamodb"].get("NewImage")) or {}
            return all(image.get(k) == v for k, v in new_values.items())

        return [r for r in self.history if r["eventName"] == event_name and matches(r)]


def event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


@dataclass
class Shop:
    """One test's tables (own prefix) plus helpers to write them and run the saga."""

    settings: Settings
    ddb: Any
    streams: Any
    payments_url: str
    gate: Any = None
    sqs: Any = None
    queue_url: str = ""
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _taps: dict[str, StreamTap] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    @property
    def t(self) -> Any:
        return self.settings.tables

    def tap(self, table: str) -> StreamTap:
        if table not in self._taps:
            self._taps[table] = StreamTap(self.ddb, self.streams, table)
        return self._taps[table]

    # -- rows --------------------------------------------------------------------------------
    def add_product(self, sku: str, qty: int, price_cents: int = 1000) -> None:
        self.ddb.put_item(TableName=self.t.products, Item=to_item({
            "ProductId": sku, "TranId": "0", "Name": f"product {sku}", "Qty": qty,
            "InitialQty": qty, "PriceCents": price_cents, "LastUpdate": int(time.time())}))

    def product(self, sku: str, tran_id: str = "0") -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.t.products, ConsistentRead=True,
                                 Key={"ProductId": {"S": sku}, "TranId": {"S": tran_id}})
        return from_item(item.get("Item"))

    def order(self, order_id: str) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=self.t.orders, Key={"OrderId": {"S": order_id}},
                                 ConsistentRead=True)
        return from_item(item.get("Item")) or {}

    def cart(self, cart_id: str) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=self.t.carts, Key={"CartId": {"S": cart_id}},
                                 ConsistentRead=True)
        return from_item(item.get("Item")) or {}

    def payment_row(self, key: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.t.payments, ConsistentRead=True,
                                 Key={"IdempotencyKey": {"S": key}})
        return from_item(item.get("Item"))

    def set_order(self, order_id: str, **values: Any) -> None:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        self.ddb.update_item(
            TableName=self.t.orders, Key={"OrderId": {"S": order_id}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":v{i}": to_attr(v) for i, v in enumerate(values.values())},
        )

    # -- checkout, as docs/shop.md describes it -------------------------------------------------
    def authorize(self, order_id: str, amount: int) -> requests.Response:
        token = issue_token("test-storefront", "service", secret=self.settings.token_secret)
        return requests.post(f"{self.payments_url}/v1/payments/authorize", timeout=5,
                             headers={"Authorization": f"Bearer {token}"},
                             json={"idempotency_key": order_id, "order_id": order_id,
                                   "amount_cents": amount})

    def checkout(self, shopper: str, items: dict[str, int], price_cents: int = 1000,
                 created_at: int | None = None) -> str:
        """Cart with `items`, authorisation, then cart begin + order put in one transaction."""
        order_id = f"ord-{next(self._ids):03d}-{uuid.uuid4().hex[:8]}"
        now = int(time.time())
        self.ddb.put_item(TableName=self.t.carts, Item=to_item({
            "CartId": shopper, "Version": 3, "CheckOut": False, "Items": dict(items),
            "UpdatedAt": now}))
        lines = [{"Sku": sku, "Qty": qty, "PriceCents": price_cents}
                 for sku, qty in sorted(items.items())]
        amount = sum(line["Qty"] * line["PriceCents"] for line in lines)
        answer = self.authorize(order_id, amount)
        assert answer.status_code in (200, 201), answer.text
        self.ddb.transact_write_items(TransactItems=[
            {"Update": {
                "TableName": self.t.carts, "Key": {"CartId": {"S": shopper}},
                "UpdateExpression": "SET CheckOut = :true, OrderId = :oid, UpdatedAt = :now",
                "ConditionExpression": "Version = :v AND CheckOut = :false",
                "ExpressionAttributeValues": {":true": to_attr(True), ":false": to_attr(False),
                                              ":oid": to_attr(order_id), ":now": to_attr(now),
                                              ":v": to_attr(3)}}},
            {"Put": {
                "TableName": self.t.orders,
                "Item": to_item({"OrderId": order_id, "Owner": shopper, "Status": "PENDING",
                                 "Items": lines, "AmountCents": amount, "CartVersion": 3,
                                 "PaymentKey": order_id, "CorrelationId": f"cid-{order_id}",
                                 "TraceHeader": "", "CreatedAt": created_at or now,
                                 "UpdatedAt": now, "Version": 1}),
                "ConditionExpression": "attribute_not_exists(OrderId)"}},
        ])
        return order_id

    # -- running the stream consumers -----------------------------------------------------------
    def deliver(self, name: str, handler: Handler, records: list[dict[str, Any]],
                times: int = 1) -> list[dict[str, Any]]:
        answers = []
        for _ in range(times):
            answer = handler(event(records), None)
            self.responses.append((name, answer))
            answers.append(answer)
        return answers

    def pump(self, duplicates: int = 1, rounds: int = 20,
             handlers: list[tuple[str, Handler]] | None = None,
             second_look_too: bool = True) -> int:
        """Deliver the orders stream to the saga handlers (each batch `duplicates` times to each
        function) until nothing new arrives; the payments stream goes to Second Look (unless
        second_look_too is False: its records are then left for the test to read). Returns
        the number of orders-stream records delivered. Fails on any batch item failure."""
        delivered = 0
        for _ in range(rounds):
            records = self.tap(self.t.orders).read()
            payments = self.tap(self.t.payments).read() if second_look_too else []
            if not records and not payments:
                return delivered
            delivered += len(records)
            if records:
                for name, handler in handlers or ORDER_HANDLERS:
                    for answer in self.deliver(name, handler, records, duplicates):
                        assert answer == {"batchItemFailures": []}, (name, answer)
            if payments:
                for answer in self.deliver("shop-second-look", second_look.handler, payments,
                                           duplicates):
                    assert answer == {"batchItemFailures": []}, answer
        raise AssertionError("the saga did not settle")

    def pump_reviews(self, duplicates: int = 1) -> list[dict[str, Any]]:
        records = self.tap(self.t.reviews).read()
        if records:
            self.deliver("shop-weekly-view", weekly_view.handler, records, duplicates)
        return records
