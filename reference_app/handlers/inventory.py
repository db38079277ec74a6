"""shop-inventory (orders stream): reserve stock for a new order, release it when the order is
cancelled - the inventory service's own step and rollback of the checkout saga (seed 003).

- Status becoming PENDING (checkout accepted the order: MODIFY from AUTHORIZING, or an INSERT
  of a PENDING order): one TransactWriteItems with, per sku, `Qty = Qty - n` IF `Qty >= n`
  on the product row (TranId "0") and a Put of the event row `<order_id>#SUB` IF
  `attribute_not_exists(TranId)`, plus the order `Status = RESERVED` IF `Status = PENDING`.
  Cancelled because the event row exists or the order is no longer PENDING: an earlier delivery
  did it - success, nothing changes. Cancelled only by a Qty condition: out of stock - the order
  becomes CANCELLED, CancelReason OUT_OF_STOCK, IF `Status = PENDING`.
- MODIFY to CANCELLED: for the skus that have a `#SUB` row and no `#ADD` row, one transaction
  `Qty = Qty + n` and Put `<order_id>#ADD` IF `attribute_not_exists(TranId)`, with a
  ConditionCheck that the order is CANCELLED. Stock is never released twice. An order whose
  item list is malformed had nothing reserved (the reservation reads the same list before it
  writes anything, and fails: a poison record, sent to OnFailure): its cancellation releases
  nothing and succeeds, so the poison jams the shard once, not twice.

Before the transaction, consistent reads skip an order that is no longer PENDING and cancel
an obvious shortage without a doomed transaction (`_precheck`; the conditions still decide).
Those rows (order, stock) are read for the whole batch in one BatchGetItem when the
invocation starts (`prefetch`, `batch_reads`), so a reservation costs one TransactWriteItems.

`INVENTORY_IDEMPOTENCY=off` is a negative-control switch for tests only: the event-row Puts and
the order update lose their conditions (and the pre-check is skipped), so a redelivered record
subtracts stock again.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from reference_app.clock import now_s
from reference_app.ddb import cancellation_codes, from_item, to_attr, to_item
from reference_app.handlers import batch_reads, orders
from reference_app.handlers.common import (
    RecordContext,
    StreamRecord,
    aws,
    record_concurrency,
    run_batch,
    settings,
)

FUNCTION_NAME = "shop-inventory"
IDEMPOTENCY_ENV = "INVENTORY_IDEMPOTENCY"
PRODUCT_ROW = "0"
SUB = "SUB"
ADD = "ADD"
CONFLICT_ATTEMPTS = 5
CONFLICT_CODES = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
# Read the order and the stock before writing (see _precheck); tests switch it off to show that
# the transaction's conditions alone keep a redelivery harmless.
PRECHECK = True


def idempotency_enabled() -> bool:
    """False only when INVENTORY_IDEMPOTENCY is off/false/0 (tests' negative control)."""
    return os.environ.get(IDEMPOTENCY_ENV, "on").strip().lower() not in {"off", "false", "0"}


def event_tran_id(order_id: str, action: str) -> str:
    return f"{order_id}#{action}"


def _product_key(sku: str, tran_id: str = PRODUCT_ROW) -> dict[str, Any]:
    return {"ProductId": {"S": sku}, "TranId": {"S": tran_id}}


def _qty_update(sku: str, delta: int, now: int) -> dict[str, Any]:
    """`Qty = Qty + delta` on the product row; a subtraction requires `Qty >= |delta|`."""
    update: dict[str, Any] = {
        "TableName": settings().tables.products,
        "Key": _product_key(sku),
        "UpdateExpression": f"SET Qty = Qty {'-' if delta < 0 else '+'} :d, LastUpdate = :now",
        "ConditionExpression": ("attribute_exists(Qty) AND Qty >= :d" if delta < 0
                                else "attribute_exists(Qty)"),
        "ExpressionAttributeValues": {":d": to_attr(abs(delta)), ":now": to_attr(now)},
    }
    return {"Update": update}


def _event_put(order_id: str, sku: str, action: str, qty: int, now: int,
               guarded: bool) -> dict[str, Any]:
    put: dict[str, Any] = {
        "TableName": settings().tables.products,
        "Item": to_item({"ProductId": sku, "TranId": event_tran_id(order_id, action),
                         "Action": action, "Qty": qty, "DateTime": now, "OrderId": order_id}),
    }
    if guarded:
        put["ConditionExpression"] = "attribute_not_exists(TranId)"
    return {"Put": put}


def _transact(items: list[dict[str, Any]]) -> list[str]:
    """Run the transaction; [] on success, else the per-item cancellation codes. Conflicts with
    concurrent transactions are retried here a few times, then raised (the stream retries).
    The product rows it may have changed are dropped from the batch's prefetch (batch_reads):
    the next order of the batch reads their stock again."""
    batch_reads.forget(settings().tables.products,
                       [item["Update"]["Key"] for item in items
                        if "Update" in item
                        and item["Update"]["TableName"] == settings().tables.products])
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            aws("dynamodb").transact_write_items(TransactItems=items)
            return []
        except Exception as exc:
            codes = cancellation_codes(exc)
            if not codes:
                raise
            if not CONFLICT_CODES.intersection(codes):
                return codes
            if attempt == CONFLICT_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.02, 0.1) * attempt)
    raise AssertionError("unreachable")


def reserve(order: dict[str, Any], ctx: RecordContext) -> str:
    """Reserve the order's stock; returns 'reserved', 'already' or 'out_of_stock'."""
    order_id = str(order["OrderId"])
    items = orders.order_items(order)
    guarded = idempotency_enabled()
    if guarded and PRECHECK:
        verdict, short = _precheck(order_id, items)
        if verdict == "already":
            ctx.log.info("order %s is no longer PENDING: already reserved or cancelled", order_id)
            return verdict
        if verdict == "out_of_stock":
            _cancel_out_of_stock(order_id, short, ctx)
            return verdict
    now = now_s()
    tx: list[dict[str, Any]] = []
    for sku, qty in sorted(items.items()):
        tx.append(_qty_update(sku, -qty, now))
        tx.append(_event_put(order_id, sku, SUB, qty, now, guarded))
    tx.append({"Update": orders.status_update(
        order_id, orders.RESERVED, orders.PENDING if guarded else None)})
    codes = _transact(tx)
    if not codes:
        ctx.log.info("reserved %s for order %s", items, order_id)
        return "reserved"
    failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
    other = [code for code in codes if code not in ("None", "ConditionalCheckFailed")]
    if other:
        raise RuntimeError(f"reservation of order {order_id} cancelled: {codes}")
    order_index = len(tx) - 1
    if order_index in failed or any(i % 2 == 1 for i in failed if i < order_index):
        ctx.log.info("order %s already reserved or no longer PENDING: nothing to do", order_id)
        return "already"
    short = [sorted(items)[i // 2] for i in failed if i % 2 == 0 and i < order_index]
    _cancel_out_of_stock(order_id, short, ctx)
    return "out_of_stock"


def _batch_get(keys: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """Consistent BatchGetItem of product-table rows (unprocessed keys retried)."""
    table = settings().tables.products
    rows: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[start:start + 100],
                                           "ConsistentRead": True}}
        for attempt in range(10):
            answer = aws("dynamodb").batch_get_item(RequestItems=request)
            rows.extend(from_item(raw) or {} for raw in answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * (attempt + 1))
        if request:
            raise RuntimeError(f"could not read {what}")
    return rows


def _event_rows(order_id: str, skus: list[str]) -> dict[tuple[str, str], int]:
    """(sku, action) -> Qty of the order's existing event rows."""
    keys = [_product_key(sku, event_tran_id(order_id, action))
            for sku in skus for action in (SUB, ADD)]
    return {(str(row["ProductId"]), str(row["Action"])): int(row["Qty"])
            for row in _batch_get(keys, f"the event rows of order {order_id}")}


def _stock(skus: list[str], prefetched: bool = True) -> tuple[dict[str, int], bool]:
    """sku -> Qty on hand (a sku without a product row is absent), and whether any of it came
    from the batch's prefetch (batch_reads; `prefetched=False` reads every row now)."""
    keys = [_product_key(sku) for sku in skus]
    rows: list[dict[str, Any]] = []
    if prefetched:
        raw, keys = batch_reads.take_prefetched(settings().tables.products, keys, keep=True)
        rows = [from_item(row) or {} for row in raw]
    from_batch = len(keys) < len(skus)
    if keys:
        rows.extend(_batch_get(keys, "product rows"))
    return {str(row["ProductId"]): int(row.get("Qty", 0)) for row in rows}, from_batch


def prefetch(record: StreamRecord) -> list[tuple[str, dict[str, Any]]]:
    """The rows `_precheck` will read for a record that reserves: the order and the stock of
    its skus (run_batch reads them for the whole batch in one BatchGetItem)."""
    new = record.new or {}
    if not _reserves(record) or not (idempotency_enabled() and PRECHECK):
        return []
    table = settings().tables.products
    return [orders.order_key(str(new["OrderId"]))] + [
        (table, _product_key(sku)) for sku in sorted(orders.order_items(new))]


def _precheck(order_id: str, items: dict[str, int]) -> tuple[str | None, list[str]]:
    """Consistent reads before the transaction: 'already' when the order is no longer PENDING,
    'out_of_stock' (with the short skus) when a product lacks the stock, None to go ahead.

    Only an optimisation: a redelivery or an obvious shortage then costs reads instead of a
    cancelled transaction (which consumes write capacity on AWS); the transaction's
    conditions remain the guard against races. The rows may come from the batch's prefetch,
    read when the invocation started (batch_reads): a status no longer PENDING then stays so
    (it never returns to PENDING), and stock read too high only lets the transaction's Qty
    condition decide, as a concurrent reservation would; stock read too low (an earlier record
    of the batch released some) could cancel an order that fits, so a shortage seen in
    prefetched rows is read again before it cancels anything."""
    current = orders.get_order(order_id)
    if current is None or current.get("Status") != orders.PENDING:
        return "already", []
    stock, from_batch = _stock(sorted(items))
    short = sorted(sku for sku, qty in items.items() if stock.get(sku, -1) < qty)
    if short and from_batch:
        stock, _ = _stock(sorted(items), prefetched=False)
        short = sorted(sku for sku, qty in items.items() if stock.get(sku, -1) < qty)
    return ("out_of_stock" if short else None), short


def _cancel_out_of_stock(order_id: str, short: list[str], ctx: RecordContext) -> None:
    if orders.transition(order_id, orders.CANCELLED, orders.PENDING,
                         {"CancelReason": orders.OUT_OF_STOCK}):
        orders.count_order_event(orders.CANCELLED)
        ctx.log.info("order %s cancelled: out of stock for %s", order_id, short)
    else:
        ctx.log.info("order %s out of stock for %s but no longer PENDING: nothing to do",
                     order_id, short)


def release(order: dict[str, Any], ctx: RecordContext) -> str:
    """Give back what the order reserved; returns 'released', 'already' or 'nothing'."""
    order_id = str(order["OrderId"])
    try:
        skus = sorted(orders.order_items(order))
    except orders.MalformedOrder as exc:
        # reserve() parses the same list before any write, so it reserved nothing
        ctx.log.warning("cancelled order %s: nothing was reserved, nothing to release (%s)",
                        order_id, exc)
        return "nothing"
    rows = _event_rows(order_id, skus)
    to_release = {sku: rows[(sku, SUB)] for sku in skus
                  if (sku, SUB) in rows and (sku, ADD) not in rows}
    if not to_release:
        reserved = any((sku, SUB) in rows for sku in skus)
        ctx.log.info("order %s: %s", order_id,
                     "stock already released" if reserved else "nothing was reserved")
        return "already" if reserved else "nothing"
    guarded = idempotency_enabled()
    now = now_s()
    tx: list[dict[str, Any]] = []
    for sku, qty in sorted(to_release.items()):
        tx.append(_qty_update(sku, qty, now))
        tx.append(_event_put(order_id, sku, ADD, qty, now, guarded))
    tx.append({"ConditionCheck": {
        "TableName": settings().tables.orders, "Key": {"OrderId": {"S": order_id}},
        "ConditionExpression": "#s = :cancelled",
        "ExpressionAttributeNames": {"#s": "Status"},
        "ExpressionAttributeValues": {":cancelled": to_attr(orders.CANCELLED)},
    }})
    codes = _transact(tx)
    if not codes:
        ctx.log.info("released %s for cancelled order %s", to_release, order_id)
        return "released"
    if any(code == "ConditionalCheckFailed" for i, code in enumerate(codes) if i % 2 == 1):
        ctx.log.info("order %s: stock released concurrently: nothing to do", order_id)
        return "already"
    raise RuntimeError(f"release of order {order_id} cancelled: {codes}")


def _reserves(record: StreamRecord) -> bool:
    """The order became PENDING: its stock is to be reserved."""
    new = record.new or {}
    return (record.event_name in ("INSERT", "MODIFY") and new.get("Status") == orders.PENDING
            and record.old_value("Status") != orders.PENDING)


def skus_of(record: StreamRecord) -> list[str]:
    """The stock a record may change (its order's skus): records of orders that share one run
    in stream order (run_batch's `shares`), so a release lands before the next reservation."""
    return sorted(orders.order_items(record.image))


def process(ctx: RecordContext) -> None:
    record = ctx.record
    new = record.new or {}
    if _reserves(record):
        reserve(new, ctx)
    elif (record.event_name == "MODIFY" and new.get("Status") == orders.CANCELLED
          and record.old_value("Status") != orders.CANCELLED):
        release(new, ctx)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (orders stream)."""
    return run_batch(event, FUNCTION_NAME, process, prefetch=prefetch,
                     concurrency=record_concurrency(), shares=skus_of)
