"""shop-second-look (payments table stream = the transactions stream, seed 003): flag suspicious
transactions and alert through SQS.

A transaction is evaluated once, when its payment becomes CAPTURED (MODIFY with old Status not
CAPTURED; at that point the order exists, so the shopper is known). It is flagged when
- `amount`: AmountCents > SECOND_LOOK_AMOUNT_CENTS (default 50000), or
- `velocity`: more than SECOND_LOOK_MAX_ORDERS (default 5) captured orders of the same shopper
  within 60 s.

Velocity counting is O(1) per record in Redis: one Lua call (one round trip) that, for a
transaction not seen before, does `INCR` + `EXPIRE` of the shopper's per-minute bucket, reads
the previous minute's bucket and stores the snapshot in the transaction's seen-marker (TTL 2
days); a redelivered record gets the stored snapshot back, so it is neither counted twice nor
judged against later traffic. The 60 s estimate is `cur + prev * (1 - s/60)` (s = seconds into
the minute of the transaction's stream timestamp).

Redis rather than a DynamoDB counter: at ~10M transactions/day (~115/s, peaks far higher) a
DynamoDB counter costs two write units per record (bucket + marker) and a round trip to a
possibly hot partition per shopper, and DynamoDB TTL deletes late (hours); Redis does it in one
sub-millisecond call with exact expiry, and losing these short-lived counters on a failover
only weakens one minute of a heuristic (and may repeat an alert).

Alerting once per transaction: standard SQS queues have no deduplication, so the alert is
claimed with `SET alerted:<key> NX EX` before sending, and the claim is deleted if the send
fails (the record is then retried). A redelivered record finds the claim and sends nothing.
Each alert counts `shop_second_look_alerts_total{reason}` and the CloudWatch metric
`Shop/SecondLookAlerts` (dimension Reason; see common.count_metric).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import redis
from prometheus_client import Counter

from reference_app.config import Settings
from reference_app.ddb import from_item
from reference_app.handlers import batch_reads
from reference_app.handlers.common import (
    RecordContext,
    StreamRecord,
    aws,
    count_metric,
    env_int,
    on_reset,
    record_concurrency,
    run_batch,
    settings,
)
from reference_app.redis_conn import key_prefix, make_redis

FUNCTION_NAME = "shop-second-look"
QUEUE_NAME = "shop-second-look-alerts"
WINDOW_S = 60
SEEN_TTL_S = 2 * 24 * 3600  # longer than the stream's 24 h retention
CAPTURED = "CAPTURED"

ALERTS = Counter("shop_second_look_alerts_total", "Second Look alerts sent", ["reason"])
EVALUATED = Counter("shop_second_look_evaluated_total", "Transactions evaluated by Second Look")

# KEYS: seen marker of the transaction, current minute bucket, previous minute bucket.
# The first evaluation counts the transaction and stores the snapshot "cur:prev" in the marker;
# a redelivery gets that same snapshot back, so it reaches the same verdict.
_COUNT_SCRIPT = """
local seen = redis.call('GET', KEYS[1])
if seen then return seen end
local cur = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
local snapshot = cur .. ':' .. (redis.call('GET', KEYS[3]) or '0')
redis.call('SET', KEYS[1], snapshot, 'EX', ARGV[1])
return snapshot
"""

_lock = threading.Lock()
_redis: redis.Redis | None = None
_queue_url: str | None = None


@on_reset
def _reset() -> None:
    global _redis, _queue_url
    with _lock:
        _redis, _queue_url = None, None


def _redis_client() -> redis.Redis:
    global _redis
    if _redis is None:
        with _lock:
            if _redis is None:
                _redis = make_redis(settings())
    return _redis


def amount_threshold_cents() -> int:
    return env_int("SECOND_LOOK_AMOUNT_CENTS", 50000)


def max_orders_per_window() -> int:
    return env_int("SECOND_LOOK_MAX_ORDERS", 5)


def _keys(cfg: Settings, shopper: str, key: str, at: float) -> list[str]:
    base = f"{key_prefix(cfg)}second-look:{{{shopper}}}"  # one hash slot per shopper
    minute = int(at // WINDOW_S)
    return [f"{base}:seen:{key}", f"{base}:m{minute}", f"{base}:m{minute - 1}"]


def count_order(shopper: str, key: str, at: float) -> float:
    """Count transaction `key` of `shopper` at epoch `at` once; the shopper's estimated number
    of transactions in the 60 s up to `at`, as it was when `key` was first counted."""
    seen, current, previous = _keys(settings(), shopper, key, at)
    snapshot = _redis_client().eval(_COUNT_SCRIPT, 3, seen, current, previous,
                                    SEEN_TTL_S, 2 * WINDOW_S + 5)
    text = snapshot.decode() if isinstance(snapshot, bytes) else str(snapshot)
    cur, _, prev = text.partition(":")
    elapsed = (at % WINDOW_S) / WINDOW_S
    return int(cur) + int(prev) * (1.0 - elapsed)


def _claim_alert(key: str) -> bool:
    return bool(_redis_client().set(f"{key_prefix(settings())}second-look:alerted:{key}", "1",
                                    nx=True, ex=SEEN_TTL_S))


def _release_alert(key: str) -> None:
    _redis_client().delete(f"{key_prefix(settings())}second-look:alerted:{key}")


def queue_url() -> str:
    """SECOND_LOOK_QUEUE_URL, else the URL of SECOND_LOOK_QUEUE_NAME (shop-second-look-alerts)."""
    global _queue_url
    if _queue_url is None:
        url = os.environ.get("SECOND_LOOK_QUEUE_URL", "").strip()
        if not url:
            name = os.environ.get("SECOND_LOOK_QUEUE_NAME", QUEUE_NAME)
            url = aws("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        _queue_url = url
    return _queue_url


def _order(order_id: str) -> dict[str, Any]:
    """The order's Owner and CorrelationId (neither ever changes): the batch's prefetched row
    (batch_reads), else a projected GetItem."""
    table, key = settings().tables.orders, {"OrderId": {"S": order_id}}
    found, row = batch_reads.take(table, key)
    if not found:
        row = aws("dynamodb").get_item(
            TableName=table, Key=key, ProjectionExpression="#o, CorrelationId",
            ExpressionAttributeNames={"#o": "Owner"}).get("Item")
    return from_item(row) or {}


def prefetch(record: StreamRecord) -> list[tuple[str, dict[str, Any]]]:
    """The order `evaluate` reads for a capture whose payment row names no shopper (run_batch
    reads them for the batch in one BatchGetItem)."""
    new = record.new or {}
    if not is_capture(record) or new.get("ShopperId"):
        return []
    order_id = str(new.get("OrderId") or new["IdempotencyKey"])
    return [(settings().tables.orders, {"OrderId": {"S": order_id}})]


def _publish_metric(reasons: list[str]) -> None:
    for reason in reasons:
        ALERTS.labels(reason).inc()
        count_metric("SecondLookAlerts", 1.0, {"Reason": reason})


def evaluate(payment: dict[str, Any], at: float, ctx: RecordContext) -> list[str]:
    """Flag (and alert about) one captured transaction; returns the reasons ([] = fine)."""
    key = str(payment["IdempotencyKey"])
    order_id = str(payment.get("OrderId") or key)
    amount = int(payment.get("AmountCents") or 0)
    shopper = payment.get("ShopperId")
    if not shopper:
        order = _order(order_id)
        if order.get("CorrelationId"):
            ctx.rebind(str(order["CorrelationId"]))
        shopper = order.get("Owner") or f"unknown:{order_id}"
    EVALUATED.inc()
    recent = count_order(str(shopper), key, at)
    reasons = []
    if amount > amount_threshold_cents():
        reasons.append("amount")
    if recent > max_orders_per_window():
        reasons.append("velocity")
    if not reasons:
        return []
    if not _claim_alert(key):
        ctx.log.info("transaction %s already alerted (%s): not sending again", key, reasons)
        return reasons
    alert = {"type": "second_look", "reasons": reasons, "idempotency_key": key,
             "order_id": order_id, "shopper_id": shopper, "amount_cents": amount,
             "orders_last_60s": round(recent, 2), "correlation_id": ctx.correlation_id,
             "transaction_at": at, "detected_at": time.time()}
    try:
        aws("sqs").send_message(
            QueueUrl=queue_url(), MessageBody=json.dumps(alert, sort_keys=True),
            MessageAttributes={"CorrelationId": {"DataType": "String",
                                                 "StringValue": ctx.correlation_id}})
    except Exception:
        _release_alert(key)
        raise
    _publish_metric(reasons)
    ctx.log.warning("second look: transaction %s of shopper %s flagged (%s)", key, shopper,
                    ", ".join(reasons))
    return reasons


def is_capture(record: StreamRecord) -> bool:
    return (record.event_name in ("INSERT", "MODIFY") and record.new is not None
            and record.new.get("Status") == CAPTURED and record.old_value("Status") != CAPTURED)


def process(ctx: RecordContext) -> None:
    if is_capture(ctx.record):
        evaluate(ctx.record.new or {}, ctx.record.created_at or time.time(), ctx)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (payments stream)."""
    return run_batch(event, FUNCTION_NAME, process, prefetch=prefetch,
                     concurrency=record_concurrency())
