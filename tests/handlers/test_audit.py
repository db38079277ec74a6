"""The reconciliation audit must be able to fail: a consistent state passes, and each kind of
corruption is reported, order by order / product by product, and nothing else is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from reference_app.audit import audit
from reference_app.ddb import to_attr, to_item
from tests.handlers.harness import Shop

OLD = int(time.time()) - 3600
OLD_MS = OLD * 1000


def put(shop: Shop, table: str, row: dict[str, Any]) -> None:
    shop.ddb.put_item(TableName=table, Item=to_item(row))


def update(shop: Shop, table: str, key: dict[str, str], **values: Any) -> None:
    shop.ddb.update_item(
        TableName=table, Key={k: {"S": v} for k, v in key.items()},
        UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(values)},
        ExpressionAttributeValues={f":v{i}": to_attr(v) for i, v in enumerate(values.values())})


def delete(shop: Shop, table: str, key: dict[str, str]) -> None:
    shop.ddb.delete_item(TableName=table, Key={k: {"S": v} for k, v in key.items()})


def order(order_id: str, owner: str, status: str, sku: str, qty: int,
          **extra: Any) -> dict[str, Any]:
    return {"OrderId": order_id, "Owner": owner, "Status": status,
            "Items": [{"Sku": sku, "Qty": qty, "PriceCents": 1000}], "AmountCents": qty * 1000,
            "PaymentKey": order_id, "CorrelationId": f"cid-{order_id}", "CreatedAt": OLD,
            "UpdatedAt": OLD, "Version": 3, **extra}


def event_row(sku: str, order_id: str, action: str, qty: int) -> dict[str, Any]:
    return {"ProductId": sku, "TranId": f"{order_id}#{action}", "Action": action, "Qty": qty,
            "DateTime": OLD, "OrderId": order_id}


def payment_row(key: str, order_id: str, amount: int, status: str) -> dict[str, Any]:
    return {"IdempotencyKey": key, "OrderId": order_id, "AmountCents": amount, "Status": status,
            "History": [], "CreatedAt": OLD_MS, "UpdatedAt": OLD_MS}


def write_clean_state(shop: Shop) -> None:
    """C1 completed (3 x SKU-A), X1 cancelled after its reservation (2 x SKU-B released)."""
    t = shop.t
    put(shop, t.products, {"ProductId": "SKU-A", "TranId": "0", "Qty": 7, "InitialQty": 10})
    put(shop, t.products, {"ProductId": "SKU-B", "TranId": "0", "Qty": 5, "InitialQty": 5})
    put(shop, t.products, event_row("SKU-A", "C1", "SUB", 3))
    put(shop, t.products, event_row("SKU-B", "X1", "SUB", 2))
    put(shop, t.products, event_row("SKU-B", "X1", "ADD", 2))
    put(shop, t.orders, order("C1", "alice", "COMPLETED", "SKU-A", 3))
    put(shop, t.orders, order("X1", "bob", "CANCELLED", "SKU-B", 2,
                              CancelReason="PAYMENT_FAILED"))
    put(shop, t.payments, payment_row("C1", "C1", 3000, "CAPTURED"))
    put(shop, t.payments, payment_row("X1", "X1", 2000, "VOIDED"))
    put(shop, t.carts, {"CartId": "alice", "Version": 5, "CheckOut": False, "Items": {}})
    put(shop, t.carts, {"CartId": "bob", "Version": 5, "CheckOut": False,
                        "Items": {"SKU-B": 2}})


Corruption = Callable[[Shop], None]
CASES: dict[str, tuple[Corruption, list[tuple[str, str, str]]]] = {
    "stuck": (lambda s: put(s, s.t.orders, order("P1", "carl", "RESERVED", "SKU-B", 0)),
              [("stuck_order", "order", "P1")]),
    "release_without_reservation": (
        lambda s: (put(s, s.t.products, event_row("SKU-B", "X2", "ADD", 1)),
                   put(s, s.t.orders, order("X2", "eve", "CANCELLED", "SKU-B", 1)),
                   update(s, s.t.products, {"ProductId": "SKU-B", "TranId": "0"}, Qty=6)),
        [("release_without_reservation", "order", "X2")]),
    "orphan_stock_event": (
        lambda s: (put(s, s.t.products, event_row("SKU-A", "nobody", "SUB", 1)),
                   update(s, s.t.products, {"ProductId": "SKU-A", "TranId": "0"}, Qty=6)),
        [("orphan_stock_event", "order", "nobody")]),
    "negative_stock": (lambda s: update(s, s.t.products, {"ProductId": "SKU-A", "TranId": "0"},
                                        Qty=-1, InitialQty=2),
                       [("negative_stock", "product", "SKU-A")]),
    "not_conserved": (lambda s: update(s, s.t.products, {"ProductId": "SKU-A", "TranId": "0"},
                                       Qty=4),
                      [("stock_not_conserved", "product", "SKU-A")]),
    "charged_twice": (lambda s: put(s, s.t.payments,
                                    payment_row("C1-again", "C1", 3000, "CAPTURED")),
                      [("double_charge", "order", "C1")]),
    "amount_mismatch": (lambda s: update(s, s.t.payments, {"IdempotencyKey": "C1"},
                                         AmountCents=2999),
                        [("amount_mismatch", "order", "C1")]),
    "cancelled_charged": (lambda s: update(s, s.t.payments, {"IdempotencyKey": "X1"},
                                           Status="CAPTURED"),
                          [("cancelled_with_charge", "order", "X1")]),
    "cancelled_reserved": (lambda s: (delete(s, s.t.products,
                                             {"ProductId": "SKU-B", "TranId": "X1#ADD"}),
                                      update(s, s.t.products,
                                             {"ProductId": "SKU-B", "TranId": "0"}, Qty=3)),
                           [("cancelled_with_reservation", "order", "X1")]),
    "released_twice_worth": (lambda s: (update(s, s.t.products,
                                               {"ProductId": "SKU-B", "TranId": "X1#ADD"}, Qty=4),
                                        update(s, s.t.products,
                                               {"ProductId": "SKU-B", "TranId": "0"}, Qty=7)),
                             [("release_mismatch", "order", "X1")]),
    "completed_uncaptured": (lambda s: update(s, s.t.payments, {"IdempotencyKey": "C1"},
                                              Status="AUTHORIZED"),
                             [("completed_without_capture", "order", "C1")]),
    "completed_unreserved": (lambda s: (delete(s, s.t.products,
                                               {"ProductId": "SKU-A", "TranId": "C1#SUB"}),
                                        update(s, s.t.products,
                                               {"ProductId": "SKU-A", "TranId": "0"},
                                               InitialQty=7)),
                             [("completed_without_reservation", "order", "C1")]),
    "completed_released": (lambda s: (put(s, s.t.products, event_row("SKU-A", "C1", "ADD", 3)),
                                      update(s, s.t.products,
                                             {"ProductId": "SKU-A", "TranId": "0"}, Qty=10)),
                           [("completed_with_release", "order", "C1")]),
    "cart_left_checking_out": (lambda s: update(s, s.t.carts, {"CartId": "bob"},
                                                CheckOut=True, OrderId="X1"),
                               [("cart_left_checking_out", "cart", "bob")]),
    "orphan_payment": (lambda s: put(s, s.t.payments,
                                     payment_row("ghost", "ghost", 500, "AUTHORIZED")),
                       [("orphan_payment", "payment", "ghost")]),
}


def test_clean_state_passes(shop: Shop) -> None:
    write_clean_state(shop)
    # a young order in flight is not stuck, and a fresh authorisation without its order yet
    # (checkout authorises before writing the order) is not an orphan
    put(shop, shop.t.orders, order("P2", "dan", "PENDING", "SKU-B", 1,
                                   CreatedAt=int(time.time())))
    put(shop, shop.t.payments, payment_row("fresh", "fresh", 100, "AUTHORIZED")
        | {"CreatedAt": int(time.time() * 1000)})
    report = audit(shop.settings, grace_s=60)
    assert report.ok, report.render_text()
    assert report.counts["orders_by_status"] == {"COMPLETED": 1, "CANCELLED": 1, "PENDING": 1}
    assert report.counts["orders_in_flight"] == 1
    assert report.counts["stock_events"] == {"SUB": 2, "ADD": 1}
    assert report.render_text().startswith("AUDIT OK")
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_corruption_is_reported(shop: Shop, case: str) -> None:
    corrupt, expected = CASES[case]
    write_clean_state(shop)
    corrupt(shop)
    report = audit(shop.settings, grace_s=60)
    assert not report.ok
    assert [(p.check, p.subject, p.subject_id) for p in report.problems] == expected, \
        report.render_text()
    text = report.render_text()
    check, subject, subject_id = expected[0]
    assert text.startswith("AUDIT FAILED: 1 problem(s)")
    assert f"{subject} {subject_id}:" in text and check in text
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["ok"] is False
    assert as_dict["by_subject"] == {f"{subject} {subject_id}": [check]}
    assert as_dict["counts"]["problems_by_check"] == {check: 1}


def test_stuck_order_lists_status_and_age(shop: Shop) -> None:
    write_clean_state(shop)
    put(shop, shop.t.orders, order("P1", "carl", "PAID", "SKU-B", 0))
    problem = audit(shop.settings, grace_s=60).problems[0]
    assert problem.details["status"] == "PAID"
    # OLD was taken when the module was imported: the session may have run a while since
    assert 3590 < problem.details["age_s"] < time.time() - OLD + 10
    assert problem.message.startswith("PAID, ")


def test_each_problem_has_a_key_that_names_the_same_problem_later(shop: Shop) -> None:
    write_clean_state(shop)
    put(shop, shop.t.orders, order("P1", "carl", "PAID", "SKU-B", 0))
    update(shop, shop.t.products, {"ProductId": "SKU-A", "TranId": "0"}, InitialQty=11)
    first = {p.check: p.key for p in audit(shop.settings, grace_s=60).problems}
    assert first == {"stuck_order": "stuck_order order P1",  # not its age: it grows
                     "stock_not_conserved": "stock_not_conserved product SKU-A off by -1"}
    update(shop, shop.t.products, {"ProductId": "SKU-A", "TranId": "0"}, InitialQty=13)
    later = {p.check: p.key for p in audit(shop.settings, grace_s=60, now=time.time() + 60
                                           ).problems}
    assert later["stuck_order"] == first["stuck_order"]
    assert later["stock_not_conserved"] == "stock_not_conserved product SKU-A off by -3"  # new
    assert all("key" in p for p in audit(shop.settings, grace_s=60).to_dict()["problems"])


def test_the_audit_reads_as_a_batch_job() -> None:
    """Its whole-table scans may take a loaded local emulator longer than the services' 2 s:
    the audit's client waits 30 s, with the services' retry policy, and carries no fault hook."""
    from reference_app.audit import AUDIT_READ_TIMEOUT_S, audit_client
    from reference_app.aws_session import READ_TIMEOUT_S
    from reference_app.config import Settings

    client = audit_client(Settings(aws_endpoint_url="http://127.0.0.1:9"))
    assert client.meta.config.read_timeout == AUDIT_READ_TIMEOUT_S > READ_TIMEOUT_S
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.connect_timeout == 2.0


def test_a_fresh_cancellation_gets_the_grace_period_for_its_rollback(shop: Shop) -> None:
    """An order created long ago and cancelled just now still holds its authorisation until
    the saga voids it: not a problem yet (it was reported at once: the grace counted from the
    order's creation)."""
    write_clean_state(shop)
    now = int(time.time())
    put(shop, shop.t.orders, order("X3", "fay", "CANCELLED", "SKU-B", 0, UpdatedAt=now,
                                   CancelReason="CHECKOUT_TIMEOUT"))
    put(shop, shop.t.payments, payment_row("X3", "X3", 0, "AUTHORIZED"))
    report = audit(shop.settings, grace_s=60)
    assert report.ok, report.render_text()
    assert report.counts["cancellations_rolling_back"] == 1
    later = audit(shop.settings, grace_s=60, now=now + 61)  # the rollback never came
    assert [(p.check, p.subject_id) for p in later.problems] == [("cancelled_with_charge", "X3")]
