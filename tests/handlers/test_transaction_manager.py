"""The transaction manager against moto and the payments contract: an OnFailure record of an
order's rollback (the consumer's retries ran out while payments was down) is re-driven until
it succeeds, so the authorisation of a cancelled order ends voided; and the sweeper cancels a
checkout left open, but never one that moved on."""

from __future__ import annotations

import time

import pytest

from reference_app.transaction_manager import TransactionManager
from tests.handlers.harness import Shop


def _on_failure_message(shop: Shop, record: dict, function: str) -> dict:
    """The invocation record an event source mapping sends to its OnFailure destination."""
    arn = record["eventSourceARN"]
    shard = shop.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    seq = record["dynamodb"]["SequenceNumber"]
    return {
        "requestContext": {"functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:"
                                          f"{function}", "condition": "RetryAttemptsExhausted"},
        "DDBStreamBatchInfo": {"shardId": shard["ShardId"], "startSequenceNumber": seq,
                               "endSequenceNumber": seq, "streamArn": arn, "batchSize": 1},
    }


def test_a_rollback_given_up_on_is_redriven_until_payments_answers(shop: Shop) -> None:
    shop.add_product("SKU-1", 5)
    order_id = shop.checkout("tm-1", {"SKU-1": 1})
    shop.set_order(order_id, Status="CANCELLED", CancelReason="CHECKOUT_FAILED")
    shop.tap(shop.t.orders).read()
    [cancelled] = shop.tap(shop.t.orders).find("MODIFY", OrderId=order_id, Status="CANCELLED")
    message = _on_failure_message(shop, cancelled, "shop-payment")
    manager = TransactionManager(shop.settings)

    shop.gate.down = True  # payments still down: the message must stay to be redelivered
    with pytest.raises(Exception, match="payments"):
        manager.handle(message)
    assert shop.payment_row(order_id)["Status"] == "AUTHORIZED"

    shop.gate.down = False
    assert manager.handle(message) == 0  # nothing cancelled: the rollback was re-driven
    assert shop.payment_row(order_id)["Status"] == "VOIDED"
    assert manager.redriven == 1


def test_the_sweeper_cancels_only_checkouts_left_open(shop: Shop) -> None:
    now = int(time.time())
    for order_id, status, age_s in (("ord-open-old", "AUTHORIZING", 60),
                                    ("ord-open-new", "AUTHORIZING", 1),
                                    ("ord-accepted", "PENDING", 60)):
        item = {"OrderId": {"S": order_id}, "Owner": {"S": "tm-2"}, "Status": {"S": status},
                "CreatedAt": {"N": str(now - age_s)}, "PaymentKey": {"S": order_id}}
        if status == "AUTHORIZING":
            item["CheckoutOpen"] = {"S": "1"}
        shop.ddb.put_item(TableName=shop.t.orders, Item=item)
    manager = TransactionManager(shop.settings)
    assert manager.sweep(time.time()) == 1
    assert (shop.order("ord-open-old")["Status"], shop.order("ord-open-old")["CancelReason"]) \
        == ("CANCELLED", "CHECKOUT_TIMEOUT")
    assert "CheckoutOpen" not in shop.order("ord-open-old")
    assert shop.order("ord-open-new")["Status"] == "AUTHORIZING"
    assert shop.order("ord-accepted")["Status"] == "PENDING"
    assert manager.sweep(time.time()) == 0  # out of the index now
