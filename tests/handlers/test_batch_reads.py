"""One consistent BatchGetItem per invocation for the rows the saga's records read
(reference_app.handlers.batch_reads): the DynamoDB calls each handler makes for a batch, the
rows handed out once, a stale prefetched shortage read again, a failed prefetch harmless."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reference_app import ddb
from reference_app.audit import audit
from reference_app.handlers import (
    batch_reads,
    common,
    inventory,
    order_completion,
    payment,
    second_look,
)
from tests.handlers.harness import Shop, event


@pytest.fixture
def ddb_calls(shop: Shop) -> Iterator[Counter[str]]:
    """The operations the handlers' own DynamoDB client sends, counted by name."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client = common.aws("dynamodb")
    client.meta.events.register("before-call.dynamodb", count)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)


def _deliver(shop: Shop, handler: Any, records: list[dict[str, Any]]) -> None:
    assert handler(event(records), None) == {"batchItemFailures": []}


def test_each_saga_step_reads_its_batch_once_and_writes_once_per_order(
        shop: Shop, ddb_calls: Counter[str]) -> None:
    for n in range(4):
        shop.add_product(f"SKU-{n}", 10)
    ids = [shop.checkout(f"shopper-{n}", {f"SKU-{n}": n + 1}) for n in range(4)]
    orders_tap = shop.tap(shop.t.orders)

    pending = orders_tap.read()
    assert len(pending) == 4
    _deliver(shop, inventory.handler, pending)
    assert {shop.order(i)["Status"] for i in ids} == {"RESERVED"}
    # was: per order a GetItem (order) and a BatchGetItem (stock) before its transaction
    assert ddb_calls == {"BatchGetItem": 1, "TransactWriteItems": 4}

    ddb_calls.clear()
    reserved = orders_tap.read()
    _deliver(shop, payment.handler, reserved)
    assert {shop.order(i)["Status"] for i in ids} == {"PAID"}
    assert ddb_calls == {"BatchGetItem": 1, "UpdateItem": 4}  # was: a GetItem per order

    ddb_calls.clear()
    paid = orders_tap.read()
    _deliver(shop, order_completion.handler, paid)
    assert {shop.order(i)["Status"] for i in ids} == {"COMPLETED"}
    assert ddb_calls == {"BatchGetItem": 1, "TransactWriteItems": 4}  # was: GetItem per cart

    ddb_calls.clear()
    captures = shop.tap(shop.t.payments).read()
    _deliver(shop, second_look.handler, captures)
    assert ddb_calls == {"BatchGetItem": 1}  # was: a GetItem per captured payment

    shop.pump()  # the rest of the stream (COMPLETED records) changes nothing
    assert [shop.product(f"SKU-{n}")["Qty"] for n in range(4)] == [9, 8, 7, 6]
    report = audit(shop.settings, grace_s=0)
    assert report.ok, report.render_text()
    assert report.counts["orders_by_status"] == {"COMPLETED": 4}


def test_stock_rows_serve_every_order_of_the_batch_until_one_writes_them(
        shop: Shop, ddb_calls: Counter[str]) -> None:
    shop.add_product("SKU-1", 10)
    shop.add_product("SKU-2", 1)
    ok = shop.checkout("alice", {"SKU-1": 1})
    short = shop.checkout("bob", {"SKU-1": 1, "SKU-2": 2})
    also_ok = shop.checkout("carol", {"SKU-1": 1})

    _deliver(shop, inventory.handler, shop.tap(shop.t.orders).read())

    assert shop.order(ok)["Status"] == shop.order(also_ok)["Status"] == "RESERVED"
    assert (shop.order(short)["Status"], shop.order(short)["CancelReason"]) == (
        "CANCELLED", "OUT_OF_STOCK")
    assert shop.product("SKU-1")["Qty"] == 8 and shop.product("SKU-2")["Qty"] == 1
    # the prefetch; bob's SKU-1, written by alice's reservation, read again (with SKU-2 from
    # the batch: short, so both read once more to confirm); carol's SKU-1 read again
    assert ddb_calls["BatchGetItem"] == 4
    assert ddb_calls["TransactWriteItems"] == 2 and ddb_calls["GetItem"] == 0


def test_a_shortage_seen_in_prefetched_stock_is_read_again_before_cancelling(
        shop: Shop) -> None:
    """The batch releases stock (a cancelled order) before the record that needs it: the
    prefetched stock, read when the invocation began, is short; the order must not be
    cancelled for it."""
    shop.add_product("SKU-1", 1)
    first = shop.checkout("alice", {"SKU-1": 1})
    orders_tap = shop.tap(shop.t.orders)
    _deliver(shop, inventory.handler, orders_tap.read())
    assert shop.product("SKU-1")["Qty"] == 0
    shop.set_order(first, Status="CANCELLED", CancelReason="PAYMENT_FAILED")
    second = shop.checkout("bob", {"SKU-1": 1})

    batch = orders_tap.read()  # first: RESERVED, CANCELLED; second: PENDING
    assert [r["eventName"] for r in batch] == ["MODIFY", "MODIFY", "INSERT"]
    _deliver(shop, inventory.handler, batch)

    assert shop.product("SKU-1", f"{first}#ADD") is not None
    assert shop.order(second)["Status"] == "RESERVED", shop.order(second)
    assert shop.product("SKU-1")["Qty"] == 0


def test_a_failed_prefetch_only_costs_the_reads_it_saved(
        shop: Shop, ddb_calls: Counter[str], caplog: pytest.LogCaptureFixture) -> None:
    shop.add_product("SKU-1", 5)
    ids = [shop.checkout(f"s-{n}", {"SKU-1": 1}) for n in range(2)]
    refused: list[int] = []

    def refuse_first(**_: Any) -> None:
        if not refused:
            refused.append(1)
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "injected"}}, "BatchGetItem")

    client = common.aws("dynamodb")
    client.meta.events.register("before-call.dynamodb.BatchGetItem", refuse_first)
    try:
        _deliver(shop, inventory.handler, shop.tap(shop.t.orders).read())
    finally:
        client.meta.events.unregister("before-call.dynamodb.BatchGetItem", refuse_first)

    assert refused and {shop.order(i)["Status"] for i in ids} == {"RESERVED"}
    assert "prefetch of 4 row(s) failed" in caplog.text
    # the records read for themselves, as before the prefetch existed
    assert ddb_calls["GetItem"] == 2 and ddb_calls["TransactWriteItems"] == 2


# -- BatchReads on a fake client ----------------------------------------------------------------
class FakeDynamo:
    """batch_get_item over a dict of rows; `hold_back` keys come back unprocessed."""

    def __init__(self, rows: dict[str, dict[str, Any]], hold_back: set[str] = frozenset()
                 ) -> None:  # type: ignore[assignment]
        self.rows = rows
        self.hold_back = hold_back
        self.requests: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        spec = RequestItems["t"]
        assert spec["ConsistentRead"] is True
        keys = [k["Id"]["S"] for k in spec["Keys"]]
        self.requests.append(len(keys))
        held = [k for k in keys if k in self.hold_back]
        return {"Responses": {"t": [self.rows[k] for k in keys
                                    if k in self.rows and k not in held]},
                "UnprocessedKeys": {"t": {"Keys": [{"Id": {"S": k}} for k in held],
                                          "ConsistentRead": True}}
                if held else {}}

    def get_item(self, TableName: str, Key: dict[str, Any],  # noqa: N803
                 ConsistentRead: bool) -> dict[str, Any]:  # noqa: N803
        assert ConsistentRead is True
        row = self.rows.get(Key["Id"]["S"])
        return {"Item": row} if row else {}


def _row(ident: str, value: int) -> dict[str, Any]:
    return {"Id": {"S": ident}, "V": {"N": str(value)}}


def _key(ident: str) -> tuple[str, dict[str, Any]]:
    return "t", {"Id": {"S": ident}}


def test_batch_reads_hand_each_row_out_once_then_read_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ddb.time, "sleep", lambda _s: None)  # batch_get's pauses
    fake = FakeDynamo({f"k{i}": _row(f"k{i}", i) for i in range(150)}, hold_back={"k7"})
    wanted = [_key(f"k{i}") for i in range(150)] + [_key("gone"), _key("k3")]
    with batch_reads.scope(fake, wanted) as reads:
        # 151 distinct keys, 100 a request; k7 unprocessed, asked for twice more
        assert fake.requests == [100, 1, 1, 51]
        assert len(reads) == 150  # k7 stayed unprocessed: not remembered
        assert batch_reads.consistent_item(fake, *_key("k3")) == _row("k3", 3)
        fake.rows["k3"] = _row("k3", 33)  # written by an earlier record of the batch
        assert batch_reads.consistent_item(fake, *_key("k3")) == _row("k3", 33)  # read again
        assert batch_reads.consistent_item(fake, *_key("gone")) is None  # known absent
        assert batch_reads.take(*_key("gone")) == (False, None)
        assert batch_reads.take(*_key("k7")) == (False, None)
        rows, missing = batch_reads.take_prefetched("t", [{"Id": {"S": "k8"}},
                                                          {"Id": {"S": "k7"}}])
        assert rows == [_row("k8", 8)] and missing == [{"Id": {"S": "k7"}}]
    assert batch_reads.current() is None
    assert batch_reads.take(*_key("k9")) == (False, None)
