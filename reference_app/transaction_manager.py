"""The transaction manager (seed 004): cancels the orders whose stream records a consumer gave up
on, so that every service's own rollback runs and no order stays stuck.

A Lambda event source mapping with an OnFailure destination sends an *invocation record* to an
SQS queue when it discards a batch (retries exhausted, record too old): it names the shard and
the sequence range, not the records. This manager reads those messages, fetches the records
from the stream (as AWS documents: GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords up to
the end sequence number), and moves every order among them that is not already terminal to
CANCELLED with `CancelReason = "ON_FAILURE:<function>"` (conditional on its current status).
The stream then carries the cancellation to the inventory, payment and completion handlers,
which release stock, void or refund, and roll the cart back.

An order that was already CANCELLED when its consumer gave up means the record given up on was
that consumer's own rollback (void or refund the payment, release the stock, end the cart's
checkout), e.g. payments stayed down longer than the mapping's retries. Cancelling again would
change nothing, so the manager runs that record through the consumer's handler itself; while it
still fails the message stays in the queue and comes back after its visibility timeout, so the
rollback happens once the dependency is back — an authorisation is never left held on a
cancelled order because the retries ran out.

Records of other tables (payments, reviews) are logged and acknowledged: nothing to undo there.
A message is deleted only after its records were handled, so a crash means a redelivery, and
every step is conditional, so a redelivery changes nothing.

It also sweeps open checkouts: an order still AUTHORIZING (its checkout's outcome was unknown
and the client never retried it, or the storefront died mid-checkout) older than
SHOP_CHECKOUT_TIMEOUT_S is cancelled with `CancelReason = "CHECKOUT_TIMEOUT"` (conditional on
AUTHORIZING), so the saga voids whatever was authorised and ends the cart's checkout: every
authorisation ends belonging to an accepted order or voided. The sweep reads the sparse
`open-checkouts` index (only AUTHORIZING orders are in it), every SWEEP_INTERVAL_S.

Runs as `python -m reference_app.transaction_manager --queue-url URL` (a worker service: the
OnFailure queue and the sweep), or as `handler(event, context)` for an SQS-triggered Lambda and
`sweep_handler(event, context)` for a scheduled one (EventBridge, every minute).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
import time
from typing import Any

from reference_app import aws
from reference_app.clock import now_s
from reference_app.config import Settings
from reference_app.ddb import from_item, is_condition_failure, to_attr
from reference_app.handlers import HANDLERS
from reference_app.heartbeat import is_heartbeat
from reference_app.storefront.orders import CHECKOUT_TIMEOUT, STATUS_AUTHORIZING

log = logging.getLogger("reference_app.transaction_manager")


def is_cancellation(record: dict[str, Any]) -> bool:
    """True for the stream record of an order becoming CANCELLED (the saga's rollbacks)."""
    images = record.get("dynamodb") or {}
    new = (images.get("NewImage") or {}).get("Status", {}).get("S")
    old = (images.get("OldImage") or {}).get("Status", {}).get("S")
    return record.get("eventName") == "MODIFY" and new == "CANCELLED" and old != "CANCELLED"

TERMINAL = {"COMPLETED", "CANCELLED"}
QUEUE_NAME = "shop-stream-on-failure"
SWEEP_INTERVAL_S = 2.0
# A message whose handling fails (a rollback re-driven while payments is still down) comes back
# after REDRIVE_RETRY_S, doubling with each receive up to REDRIVE_RETRY_MAX_S; before, it came
# back after the receive's whole visibility timeout (30 s), so an order cancelled during a
# short payments outage could wait 30 s, 60 s... for its void after payments was back.
RECEIVE_VISIBILITY_S = 30  # the time one handling may take
REDRIVE_RETRY_S = 2
REDRIVE_RETRY_MAX_S = 20


def redrive_delay_s(receive_count: int) -> int:
    """Seconds before a message whose handling failed on its `receive_count`-th receive is
    delivered again."""
    return min(REDRIVE_RETRY_MAX_S, REDRIVE_RETRY_S * 2 ** max(0, receive_count - 1))


class TransactionManager:
    """Handles OnFailure invocation records for one shop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ddb = aws.client("dynamodb", settings)
        self.streams = aws.client("dynamodbstreams", settings)
        self.cancelled = 0
        self.redriven = 0
        self.seen = 0

    def records_of(self, batch_info: dict[str, Any]) -> list[dict[str, Any]]:
        """The stream records named by a DDBStreamBatchInfo (start..end, inclusive)."""
        start = int(batch_info["startSequenceNumber"])
        end = int(batch_info["endSequenceNumber"])
        iterator = self.streams.get_shard_iterator(
            StreamArn=batch_info["streamArn"], ShardId=batch_info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch_info["startSequenceNumber"],
        )["ShardIterator"]
        out: list[dict[str, Any]] = []
        for _page in range(100):  # bounded: a batch holds at most 10,000 records
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page.get("Records", []):
                seq = int(record["dynamodb"]["SequenceNumber"])
                if seq > end:
                    return out
                if seq >= start:
                    out.append(record)
            iterator = page.get("NextShardIterator")
            if not iterator or not page.get("Records"):
                return out
        return out

    def cancel(self, order_id: str, reason: str, only_from: str | None = None) -> bool:
        """CANCELLED unless already terminal (or, with `only_from`, unless in another status);
        False when there was nothing to do."""
        for _attempt in range(5):
            item = self.ddb.get_item(TableName=self.settings.tables.orders,
                                     Key={"OrderId": {"S": order_id}},
                                     ConsistentRead=True).get("Item")
            order = from_item(item) or {}
            status = order.get("Status")
            if not order or is_heartbeat(order) or status in TERMINAL:
                return False
            if only_from is not None and status != only_from:
                return False
            try:
                self.ddb.update_item(
                    TableName=self.settings.tables.orders, Key={"OrderId": {"S": order_id}},
                    UpdateExpression="SET #s = :c, CancelReason = :r, UpdatedAt = :now, "
                                     "Version = if_not_exists(Version, :zero) + :one "
                                     "REMOVE CheckoutOpen",
                    ConditionExpression="#s = :current",
                    ExpressionAttributeNames={"#s": "Status"},
                    ExpressionAttributeValues={
                        ":c": to_attr("CANCELLED"), ":r": to_attr(reason),
                        ":current": to_attr(status), ":now": to_attr(now_s()),
                        ":zero": to_attr(0), ":one": to_attr(1),
                    },
                )
                return True
            except Exception as exc:
                if not is_condition_failure(exc):
                    raise
        return False

    def open_checkouts(self, created_before: float) -> list[str]:
        """Ids of the orders still AUTHORIZING that were created before `created_before`."""
        from reference_app.tables import OPEN_CHECKOUTS_INDEX

        found: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.settings.tables.orders, "IndexName": OPEN_CHECKOUTS_INDEX,
            "KeyConditionExpression": "CheckoutOpen = :open AND CreatedAt < :before",
            "ExpressionAttributeValues": {":open": to_attr("1"),
                                          ":before": to_attr(int(created_before))},
        }
        while True:
            page = self.ddb.query(**kwargs)
            found += [item["OrderId"]["S"] for item in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def sweep(self, now: float) -> int:
        """Cancel the checkouts open longer than the checkout timeout; returns how many."""
        done = 0
        for order_id in self.open_checkouts(now - self.settings.checkout_timeout_s):
            if self.cancel(order_id, CHECKOUT_TIMEOUT, only_from=STATUS_AUTHORIZING):
                done += 1
                self.cancelled += 1
                log.warning("order %s cancelled: its checkout stayed open over %.0f s",
                            order_id, self.settings.checkout_timeout_s)
        return done

    def redrive(self, function: str, record: dict[str, Any]) -> None:
        """Run a rollback record `function` gave up on through `function`'s handler."""
        target = HANDLERS.get(function)
        if target is None:
            log.warning("no handler for %s: record %s not re-driven", function,
                        record.get("eventID"))
            return
        module, _, name = target.rpartition(".")
        handler = getattr(importlib.import_module(module), name)
        answer = handler({"Records": [record]}, None) or {}
        if answer.get("batchItemFailures"):
            raise RuntimeError(f"{function} still fails on record {record.get('eventID')}")
        self.redriven += 1
        log.warning("rollback record %s of %s re-driven through %s", record.get("eventID"),
                    record["dynamodb"]["Keys"]["OrderId"]["S"], function)

    def handle(self, invocation_record: dict[str, Any]) -> int:
        """Cancel the orders of one OnFailure invocation record; returns how many."""
        info = invocation_record["DDBStreamBatchInfo"]
        function = invocation_record.get("requestContext", {}).get("functionArn", "").rsplit(
            ":", 1)[-1] or "unknown"
        condition = invocation_record.get("requestContext", {}).get("condition", "")
        orders_table = f":table/{self.settings.tables.orders}/"
        done = 0
        records = self.records_of(info)
        for record in records:
            self.seen += 1
            if orders_table not in record.get("eventSourceARN", info["streamArn"]):
                log.info("on-failure record from %s (%s) is not an order; acknowledged",
                         function, condition)
                continue
            order_id = record["dynamodb"]["Keys"]["OrderId"]["S"]
            if self.cancel(order_id, f"ON_FAILURE:{function}"):
                done += 1
                self.cancelled += 1
                log.warning("order %s cancelled: %s gave up on it (%s)",
                            order_id, function, condition)
            elif is_cancellation(record):
                self.redrive(function, record)  # raises while it fails: redelivered later
        log.info("on-failure batch of %s (%d records, %s): %d order(s) cancelled",
                 function, len(records), condition, done)
        return done


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS-triggered Lambda entry point (partial batch response by message id)."""
    manager = TransactionManager(Settings.from_env())
    failures = []
    for message in event.get("Records", []):
        try:
            manager.handle(json.loads(message["body"]))
        except Exception:
            log.exception("could not handle on-failure message %s", message.get("messageId"))
            failures.append({"itemIdentifier": message.get("messageId")})
    return {"batchItemFailures": failures}


def sweep_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled Lambda entry point: one sweep of the open checkouts."""
    return {"cancelled": TransactionManager(Settings.from_env()).sweep(time.time())}


def run(queue_url: str, stop: threading.Event, settings: Settings | None = None) -> None:
    """Poll the OnFailure queue and sweep open checkouts until `stop` is set."""
    settings = settings or Settings.from_env()
    manager = TransactionManager(settings)
    sqs = aws.client("sqs", settings)
    log.info("transaction manager polling %s", queue_url)
    next_sweep = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + SWEEP_INTERVAL_S
            try:
                manager.sweep(time.time())
            except Exception as exc:
                log.warning("sweep of open checkouts failed: %s", exc)
        try:
            page = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1, VisibilityTimeout=RECEIVE_VISIBILITY_S,
                                       AttributeNames=["ApproximateReceiveCount"])
        except Exception as exc:
            log.warning("receive from %s failed: %s", queue_url, exc)
            stop.wait(1.0)
            continue
        for message in page.get("Messages", []):
            handle_message(manager, sqs, queue_url, message)


def handle_message(manager: TransactionManager, sqs: Any, queue_url: str,
                   message: dict[str, Any]) -> bool:
    """Handle one OnFailure message: deleted when handled, else made visible again after
    `redrive_delay_s` (not the receive's whole visibility timeout). True when handled."""
    try:
        manager.handle(json.loads(message["Body"]))
    except Exception:
        count = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 1))
        delay = redrive_delay_s(count)
        log.exception("on-failure message %s not handled (receive %d); redelivered in %d s",
                      message.get("MessageId"), count, delay)
        try:
            sqs.change_message_visibility(QueueUrl=queue_url,
                                          ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=delay)
        except Exception as exc:  # it comes back after the receive's timeout all the same
            log.warning("could not shorten the visibility of %s: %s",
                        message.get("MessageId"), exc)
        return False
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cancel orders whose stream records failed")
    parser.add_argument("--queue-url", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run(args.queue_url, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
