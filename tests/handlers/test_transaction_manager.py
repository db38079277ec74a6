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


def test_a_failed_redrive_comes_back_within_seconds_not_the_visibility_timeout(
        shop: Shop) -> None:
    """The mechanism behind settling after a payments outage (issue 12 item 4): a rollback that
    still fails is retried after a short, doubling delay (2, 4, 8 ... 20 s) instead of the 30 s
    receive visibility timeout, against moto's SQS (the message really comes back)."""
    from reference_app.transaction_manager import REDRIVE_RETRY_MAX_S, handle_message

    shop.add_product("SKU-1", 5)
    order_id = shop.checkout("tm-2", {"SKU-1": 1})
    shop.set_order(order_id, Status="CANCELLED", CancelReason="CHECKOUT_FAILED")
    shop.tap(shop.t.orders).read()
    [cancelled] = shop.tap(shop.t.orders).find("MODIFY", OrderId=order_id, Status="CANCELLED")
    import json

    queue = shop.sqs.create_queue(QueueName=f"{shop.settings.tables.prefix}on-failure")["QueueUrl"]
    shop.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(
        _on_failure_message(shop, cancelled, "shop-payment")))
    manager = TransactionManager(shop.settings)

    def receive(wait_s: int) -> dict:
        page = shop.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=wait_s,
                                        VisibilityTimeout=30,
                                        AttributeNames=["ApproximateReceiveCount"])
        messages = page.get("Messages", [])
        assert messages, "the failed message did not come back"
        return messages[0]

    shop.gate.down = True
    assert not handle_message(manager, shop.sqs, queue, receive(1))
    # back after its 2 s retry delay (received with a 30 s visibility timeout)
    again = receive(10)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    shop.gate.down = False
    assert handle_message(manager, shop.sqs, queue, again)
    assert shop.payment_row(order_id)["Status"] == "VOIDED"
    assert not shop.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages")
    assert REDRIVE_RETRY_MAX_S < 30
