"""A Scan with a filter or a projection copies only what it returns (moto_dynamodb_fixes, 6),
and answers exactly what moto answers."""

from __future__ import annotations

import copy
import inspect
import random
from typing import Any

import pytest

from local_stack import moto_dynamodb_fixes

ACCOUNT = "123456789012"
STATUSES = ("PENDING", "PAID", "COMPLETED", "CANCELLED")


def _orders(rng: random.Random, n: int, range_key: bool = False) -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("us-east-1", ACCOUNT)
    schema = [{"AttributeName": "OrderId", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "OrderId", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "TranId", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "TranId", "AttributeType": "S"})
    backend.create_table("orders", schema=schema, throughput=None, attr=attrs,
                         global_indexes=None, indexes=None, streams=None,
                         billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
                         deletion_protection_enabled=False, warm_throughput=None)
    for i in range(n):
        item: dict[str, Any] = {"OrderId": {"S": f"o{i:05d}"},
                                "Status": {"S": rng.choice(STATUSES)},
                                "UpdatedAt": {"N": str(rng.randint(0, 100))},
                                "Lines": {"L": [{"M": {"Sku": {"S": f"s{j}"},
                                                       "Qty": {"N": str(j + 1)}}}
                                                for j in range(rng.randint(0, 3))]}}
        if range_key:
            item["TranId"] = {"S": rng.choice(("0", f"o{i}#SUB"))}
        if rng.random() < 0.7:
            item["CreatedAt"] = {"N": str(rng.randint(0, 100))}
        backend.put_item("orders", item)
    return backend


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Table.scan with the fix, and a switch back to moto's (restored after the test)."""
    import moto.dynamodb.models.table as table_module
    from moto.dynamodb.models.table import Table

    # Another test in this worker may have installed the fixes already: start from moto's own.
    original = inspect.unwrap(Table.scan)
    monkeypatch.setattr(Table, "scan", original)
    monkeypatch.setattr(table_module, "copy", copy)
    moto_dynamodb_fixes._install_scan(Table)
    fixed = Table.scan

    def use(fix: bool) -> None:
        Table.scan = fixed if fix else original  # type: ignore[method-assign]
        table_module.copy = moto_dynamodb_fixes._ITEM_COPY if fix else copy

    return use


def _scan(backend: Any, **kwargs: Any) -> Any:
    args: dict[str, Any] = {"table_name": "orders", "filters": {}, "limit": None,
                            "exclusive_start_key": None, "filter_expression": None,
                            "expr_names": {}, "expr_values": {}, "index_name": None,
                            "consistent_read": False, "projection_expression": None,
                            "segments": (None, None)}
    args.update(kwargs)
    items, scanned, last = backend.scan(**args)
    return [item.to_json() for item in items], scanned, last, items


FILTERS = (
    (None, {}, {}),
    ("NOT (#s IN (:done, :cancelled)) OR UpdatedAt >= :since", {"#s": "Status"},
     {":done": {"S": "COMPLETED"}, ":cancelled": {"S": "CANCELLED"}, ":since": {"N": "90"}}),
    ("attribute_exists(CreatedAt) AND #s = :p", {"#s": "Status"}, {":p": {"S": "PAID"}}),
)
PROJECTIONS = (None, [["OrderId"], ["Status"], ["CreatedAt"]], [["Lines"], ["TranId"]])


@pytest.mark.parametrize("range_key", [False, True])
def test_scans_answer_what_moto_answers(patched: Any, range_key: bool) -> None:
    rng = random.Random(7)
    backend = _orders(rng, 150, range_key)
    for _ in range(25):
        expr, names, values = rng.choice(FILTERS)
        kwargs: dict[str, Any] = {"filter_expression": expr, "expr_names": names,
                                  "expr_values": values,
                                  "projection_expression": rng.choice(PROJECTIONS),
                                  "limit": rng.choice((None, 7, 50))}
        if rng.random() < 0.3:
            kwargs["segments"] = (rng.randint(0, 2), 3)
        pages = []
        for fix in (False, True):
            patched(fix)
            start, got = None, []
            while True:
                items, scanned, last, _ = _scan(backend, exclusive_start_key=start, **kwargs)
                got.append((items, scanned, last))
                if not last:
                    break
                start = last
            pages.append(got)
        assert pages[0] == pages[1], kwargs


def test_a_filtered_scan_copies_only_the_items_it_returns(
        patched: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The saga exporter's scan of the orders in flight among many final ones: moto copied
    every order of the table; only the ones returned are copied now, and they are copies."""
    from moto.dynamodb.models.dynamo_type import Item

    backend = _orders(random.Random(3), 400)
    copies = [0]
    real_deepcopy = copy.deepcopy

    def counting(obj: Any, memo: Any = None) -> Any:
        if isinstance(obj, Item):
            copies[0] += 1
        return real_deepcopy(obj, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    expr, names, values = FILTERS[2]
    patched(True)
    items, scanned, _last, returned = _scan(backend, filter_expression=expr, expr_names=names,
                                           expr_values=values)
    assert scanned == 400 and 0 < len(items) < 200
    assert copies[0] == len(items)
    stored = backend.get_table("orders").items
    assert all(item is not stored[item.hash_key] for item in returned)
    copies[0] = 0
    patched(False)  # moto: a copy per item read
    assert _scan(backend, filter_expression=expr, expr_names=names,
                 expr_values=values)[:2] == (items, scanned)
    assert copies[0] == 400
