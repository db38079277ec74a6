"""The checkout saga end to end on real stream records: happy path, duplicates, out of stock,
payment failure, payments outage (jam and partial batch), refund, and the negative control."""

from __future__ import annotations

import logging
import socket

import boto3
import pytest

from reference_app.audit import audit
from reference_app.handlers import common, inventory, payment
from tests.handlers.harness import Shop, event


def test_happy_path_pending_to_completed(shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reference_app.handlers")
    shop.add_product("SKU-1", 10)
    shop.add_product("SKU-2", 5)
    order_id = shop.checkout("alice", {"SKU-1": 2, "SKU-2": 1})

    shop.pump()

    order = shop.order(order_id)
    assert order["Status"] == "COMPLETED"
    assert "CancelReason" not in order
    assert shop.product("SKU-1")["Qty"] == 8
    assert shop.product("SKU-2")["Qty"] == 4
    sub = shop.product("SKU-1", f"{order_id}#SUB")
    assert sub is not None and sub["Action"] == "SUB" and sub["Qty"] == 2
    assert shop.product("SKU-1", f"{order_id}#ADD") is None
    cart = shop.cart("alice")
    assert cart["Items"] == {} and cart["CheckOut"] is False and "OrderId" not in cart
    assert cart["Version"] == 4
    assert shop.payment_row(order_id)["Status"] == "CAPTURED"
    report = audit(shop.settings, grace_s=0)
    assert report.ok, report.render_text()
    assert report.counts["orders_by_status"] == {"COMPLETED": 1}

    cloudwatch = boto3.client("cloudwatch", endpoint_url=shop.settings.aws_endpoint_url,
                              region_name=shop.settings.aws_region)
    listed = cloudwatch.list_metrics(Namespace="Shop", MetricName="OrdersCompleted")["Metrics"]
    assert listed, "the completion was not published to CloudWatch"

    handler_lines = [r for r in caplog.records if r.name == "reference_app.handlers"]
    assert handler_lines, "the handlers logged nothing"
    for line in handler_lines:
        assert line.correlation_id == f"cid-{order_id}"
        assert line.getMessage().startswith(f"[cid-{order_id}]")


@pytest.mark.parametrize("precheck", [True, False], ids=["precheck", "conditions-only"])
def test_every_handler_twice_on_every_batch_leaves_audit_clean(
        shop: Shop, monkeypatch: pytest.MonkeyPatch, precheck: bool) -> None:
    """Duplicates change nothing - also with inventory's pre-read off, i.e. when only the
    transaction's cancellation reasons (event row exists / order not PENDING) stop them."""
    monkeypatch.setattr(inventory, "PRECHECK", precheck)
    shop.add_product("SKU-1", 10)
    shop.add_product("SKU-2", 1)
    done = shop.checkout("alice", {"SKU-1": 3})
    short = shop.checkout("bob", {"SKU-1": 1, "SKU-2": 5})
    declined = shop.checkout("carol", {"SKU-1": 2, "SKU-2": 1})
    shop.gate.decline_capture.add(declined)

    shop.pump(duplicates=2)

    assert shop.order(done)["Status"] == "COMPLETED"
    assert (shop.order(short)["Status"], shop.order(short)["CancelReason"]) == (
        "CANCELLED", "OUT_OF_STOCK")
    assert (shop.order(declined)["Status"], shop.order(declined)["CancelReason"]) == (
        "CANCELLED", "PAYMENT_FAILED")
    assert shop.product("SKU-1")["Qty"] == 7
    assert shop.product("SKU-2")["Qty"] == 1
    assert shop.gate.count("POST", f"{done}/capture") == 1
    assert shop.gate.count("POST", f"{declined}/capture") == 1
    assert shop.gate.count("POST", f"{declined}/void") == 1
    assert shop.gate.count("POST", f"{short}/void") == 1
    assert shop.gate.count("POST", "/refund") == 0
    report = audit(shop.settings, grace_s=0)
    assert report.ok, report.render_text()
    assert report.counts["orders_by_status"] == {"COMPLETED": 1, "CANCELLED": 2}


def test_out_of_stock_cancels_and_rolls_back(shop: Shop) -> None:
    shop.add_product("SKU-1", 2)
    shop.add_product("SKU-2", 9)
    order_id = shop.checkout("dave", {"SKU-1": 3, "SKU-2": 1})

    shop.pump()

    order = shop.order(order_id)
    assert (order["Status"], order["CancelReason"]) == ("CANCELLED", "OUT_OF_STOCK")
    assert shop.product("SKU-1")["Qty"] == 2 and shop.product("SKU-2")["Qty"] == 9
    assert shop.product("SKU-2", f"{order_id}#SUB") is None  # all-or-nothing
    assert shop.payment_row(order_id)["Status"] == "VOIDED"
    cart = shop.cart("dave")
    assert cart["CheckOut"] is False and cart["Items"] == {"SKU-1": 3, "SKU-2": 1}
    assert "OrderId" not in cart
    report = audit(shop.settings, grace_s=0)
    assert report.ok, report.render_text()


def test_payment_failure_voids_and_releases_stock_once(shop: Shop) -> None:
    shop.add_product("SKU-1", 10)
    order_id = shop.checkout("erin", {"SKU-1": 4})
    shop.gate.decline_capture.add(order_id)

    shop.pump(duplicates=3)
    orders_tap = shop.tap(shop.t.orders)
    cancelled = orders_tap.find("MODIFY", OrderId=order_id, Status="CANCELLED")
    assert len(cancelled) == 1
    for _ in range(3):  # and three more, one batch at a time, after everything settled
        for name, handler in (("shop-inventory", inventory.handler),
                              ("shop-payment", payment.handler)):
            assert shop.deliver(name, handler, cancelled) == [{"batchItemFailures": []}]

    order = shop.order(order_id)
    assert (order["Status"], order["CancelReason"]) == ("CANCELLED", "PAYMENT_FAILED")
    assert shop.product("SKU-1")["Qty"] == 10
    add = shop.product("SKU-1", f"{order_id}#ADD")
    assert add is not None and add["Qty"] == 4
    payment_row = shop.payment_row(order_id)
    assert payment_row["Status"] == "VOIDED"
    assert [h["Status"] for h in payment_row["History"]] == ["AUTHORIZED", "VOIDED"]
    assert shop.gate.count("POST", f"{order_id}/void") == 1
    assert shop.cart("erin")["CheckOut"] is False
    report = audit(shop.settings, grace_s=0)
    assert report.ok, report.render_text()


def test_cancel_after_capture_refunds_once(shop: Shop) -> None:
    shop.add_product("SKU-1", 10)
    order_id = shop.checkout("fay", {"SKU-1": 1})
    orders_tap = shop.tap(shop.t.orders)
    shop.deliver("shop-inventory", inventory.handler, orders_tap.read())
    shop.deliver("shop-payment", payment.handler, orders_tap.read())
    assert shop.order(order_id)["Status"] == "PAID"
    shop.set_order(order_id, Status="CANCELLED", CancelReason="ADMIN")  # e.g. a support agent

    shop.pump(duplicates=3)

    assert shop.order(order_id)["Status"] == "CANCELLED"
    assert shop.payment_row(order_id)["Status"] == "REFUNDED"
    assert shop.gate.count("POST", f"{order_id}/refund") == 1
    assert shop.product("SKU-1")["Qty"] == 10
    cart = shop.cart("fay")
    assert cart["CheckOut"] is False and cart["Items"] == {"SKU-1": 1}  # not emptied
    report = audit(shop.settings, grace_s=0)
    assert report.ok, report.render_text()


def test_payments_outage_jams_the_record_then_recovers(shop: Shop) -> None:
    shop.add_product("SKU-1", 10)
    first = shop.checkout("gus", {"SKU-1": 1})
    second = shop.checkout("hal", {"SKU-1": 2})
    orders_tap = shop.tap(shop.t.orders)
    shop.deliver("shop-inventory", inventory.handler, orders_tap.read())
    reserved = orders_tap.read()
    assert [r["eventName"] for r in reserved] == ["MODIFY", "MODIFY"]
    shop.gate.down_keys.add(second)

    # The second record fails: the first is checkpointed, the runtime retries from the second.
    answer = payment.handler(event(reserved), None)
    assert answer == {"batchItemFailures": [
        {"itemIdentifier": reserved[1]["dynamodb"]["SequenceNumber"]}]}
    assert shop.order(first)["Status"] == "PAID"
    # Retried alone, it keeps failing: the whole batch fails (a Lambda error) - the jam.
    for _ in range(2):
        with pytest.raises(Exception, match="503"):
            payment.handler(event(reserved[1:]), None)
    jammed = audit(shop.settings, grace_s=0)
    assert not jammed.ok
    assert [(p.check, p.subject_id, p.details["status"]) for p in jammed.problems
            if p.check == "stuck_order"] == [("stuck_order", first, "PAID"),
                                             ("stuck_order", second, "RESERVED")]

    shop.gate.down_keys.clear()
    assert payment.handler(event(reserved[1:]), None) == {"batchItemFailures": []}
    shop.pump()
    assert shop.order(first)["Status"] == shop.order(second)["Status"] == "COMPLETED"
    assert shop.product("SKU-1")["Qty"] == 7
    report = audit(shop.settings, grace_s=0)
    assert report.ok, report.render_text()


@pytest.mark.parametrize(("duplicates", "expect_ok"), [(1, True), (2, False)])
def test_negative_control_without_idempotency_row(
        shop: Shop, monkeypatch: pytest.MonkeyPatch, duplicates: int, expect_ok: bool) -> None:
    """With the event-row guard off, redelivery subtracts stock twice and the audit sees it;
    without redelivery the same code passes (so the guard is what is load-bearing)."""
    monkeypatch.setenv("INVENTORY_IDEMPOTENCY", "off")
    shop.add_product("SKU-1", 10)
    order_id = shop.checkout("ivy", {"SKU-1": 3})

    shop.pump(duplicates=duplicates)

    assert shop.order(order_id)["Status"] == "COMPLETED"
    assert shop.product("SKU-1")["Qty"] == 10 - 3 * duplicates
    report = audit(shop.settings, grace_s=0)
    assert report.ok is expect_ok, report.render_text()
    if not expect_ok:
        assert [(p.check, p.subject_id) for p in report.problems] == [
            ("stock_not_conserved", "SKU-1")]
        assert "off by -3" in report.render_text()


def test_saga_against_the_real_payments_app(shop: Shop) -> None:
    """The same saga with reference_app.payments (its ledger writes the payments rows)."""
    payments_app = pytest.importorskip("reference_app.payments.app")
    shop.gate.reset(app=payments_app.create_app(shop.settings))
    try:
        shop.add_product("SKU-1", 10)
        done = shop.checkout("jo", {"SKU-1": 2})
        declined = shop.checkout("kim", {"SKU-1": 1})
        shop.gate.decline_capture.add(declined)

        shop.pump(duplicates=2)

        assert shop.order(done)["Status"] == "COMPLETED"
        assert shop.order(declined)["CancelReason"] == "PAYMENT_FAILED"
        assert shop.payment_row(done)["Status"] == "CAPTURED"
        assert shop.payment_row(declined)["Status"] == "VOIDED"
        assert shop.product("SKU-1")["Qty"] == 8
        report = audit(shop.settings, grace_s=0)
        assert report.ok, report.render_text()
    finally:
        shop.gate.reset()


def test_payments_unreachable_fails_the_invocation(shop: Shop,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    shop.add_product("SKU-1", 10)
    order_id = shop.checkout("lou", {"SKU-1": 1})
    orders_tap = shop.tap(shop.t.orders)
    shop.deliver("shop-inventory", inventory.handler, orders_tap.read())
    reserved = orders_tap.read()
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("SHOP_PAYMENTS_URL", f"http://127.0.0.1:{closed_port}")
    common.reset_process_state()

    with pytest.raises(Exception, match="could not connect"):
        payment.handler(event(reserved), None)
    assert shop.order(order_id)["Status"] == "RESERVED"
    assert shop.payment_row(order_id)["Status"] == "AUTHORIZED"


def test_a_poison_order_jams_the_inventory_shard_once_not_again_when_cancelled(
        shop: Shop) -> None:
    """An order row whose item list is malformed (Qty a string) fails its INSERT in the
    inventory handler every time: after its retries it goes to OnFailure and the transaction
    manager cancels it. That cancellation must not be a second poison record: nothing was
    ever reserved for it (the reservation parses the same list before writing anything), so
    there is nothing to release."""
    from reference_app.ddb import to_item
    from reference_app.transaction_manager import TransactionManager

    shop.add_product("SKU-1", 10)
    order_id = "ord-poison-1"
    shop.ddb.put_item(TableName=shop.t.orders, Item=to_item({
        "OrderId": order_id, "Owner": "mallory", "Status": "PENDING", "AmountCents": 1000,
        "Items": [{"Sku": "SKU-1", "Qty": "lots", "PriceCents": 1000}],
        "CorrelationId": f"cid-{order_id}", "Version": 1}))
    orders_tap = shop.tap(shop.t.orders)
    [insert] = orders_tap.read()
    for _ in range(2):  # the poison: its INSERT fails whole, every time
        with pytest.raises(ValueError):
            inventory.handler(event([insert]), None)
    assert TransactionManager(shop.settings).cancel(order_id, "ON_FAILURE:shop-inventory")
    [cancelled] = orders_tap.read()
    assert cancelled["dynamodb"]["NewImage"]["Status"] == {"S": "CANCELLED"}
    assert inventory.handler(event([cancelled]), None) == {"batchItemFailures": []}
    assert shop.product("SKU-1")["Qty"] == 10
    assert shop.product("SKU-1", f"{order_id}#ADD") is None
