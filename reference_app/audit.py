"""Reconciliation audit of the checkout saga (seed 004's "check consistencies across
microservices"): reads the orders, products, payments and carts tables and reports every
violation, order by order and product by product.

Checks (an order is *settled* when older than the grace period; younger non-terminal orders are
in flight and only counted):
- `stuck_order`: a settled order that is not COMPLETED or CANCELLED (status and age listed);
- `negative_stock`: a product row with Qty < 0;
- `stock_not_conserved`: InitialQty != Qty + sum(SUB) - sum(ADD) over the product's event rows;
- `double_charge`: more than one payments row for one order;
- `amount_mismatch`: a captured (or refunded) payment whose amount differs from the order's;
- `cancelled_with_charge`: a CANCELLED order whose payment is AUTHORIZED or CAPTURED;
- `cancelled_with_reservation`: a CANCELLED order with a SUB row and no matching ADD row;
- `release_mismatch`: a CANCELLED order whose ADD row differs from its SUB row;
  (these three judge the saga's rollback, which follows the cancellation: a CANCELLED order is
  judged once its UpdatedAt, the cancellation, is older than the grace period; until then it
  is counted in `cancellations_rolling_back`)
- `release_without_reservation`: an ADD row without a SUB row;
- `completed_without_capture`: a COMPLETED order without a CAPTURED payment;
- `completed_without_reservation`: a COMPLETED order missing the SUB row of one of its items
  (or with a different quantity);
- `completed_with_release`: a COMPLETED order with an ADD row;
- `cart_left_checking_out`: a cart with CheckOut = true for a terminal (or missing) order;
- `orphan_payment` / `orphan_stock_event`: a held payment or an event row of an order that does
  not exist (checkout writes the order before it authorises, and withdraws it only when the
  authorise certainly did not happen, so a held payment without its order is always a fault;
  payments younger than the grace period are left out all the same).

Each problem has a `key`: what makes it the same problem in a later audit (the check and its
subject; for stock, also how far off it is), so a caller holding an earlier report can tell the
problems that appeared since from those already there (the chaos `audit` probe's `baseline`).

Run it as `python -m reference_app.audit [--grace-s 60] [--json]` (exit status 1 on problems).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from reference_app.aws_session import plain_client
from reference_app.config import Settings
from reference_app.ddb import epoch_s, scan_items
from reference_app.heartbeat import is_heartbeat

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 60.0
TERMINAL = ("COMPLETED", "CANCELLED")
HELD = ("AUTHORIZED", "CAPTURED")
RELEASED_PAYMENT = ("VOIDED", "REFUNDED")


@dataclass(frozen=True)
class Problem:
    """One violation: which check, about what (order/product/cart/payment and its id)."""

    check: str
    subject: str
    subject_id: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The same problem in two audits has the same key: its check and subject, and, for
        stock, its discrepancy (a product off by 1 before that is off by 3 now has a new
        problem; one whose Qty and events moved on with the same discrepancy does not)."""
        key = f"{self.check} {self.subject} {self.subject_id}"
        off_by = self.details.get("off_by")
        return key if off_by is None else f"{key} off by {off_by:+d}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}


@dataclass
class AuditReport:
    """Problems found, counts of what was read, and when."""

    checked_at: float
    grace_s: float
    problems: list[Problem]
    counts: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_subject(self) -> dict[tuple[str, str], list[Problem]]:
        """Problems grouped per (subject, id), in a stable order."""
        grouped: dict[tuple[str, str], list[Problem]] = defaultdict(list)
        for problem in sorted(self.problems, key=lambda p: (p.subject, p.subject_id, p.check)):
            grouped[(problem.subject, problem.subject_id)].append(problem)
        return dict(grouped)

    def checks_failed(self) -> set[str]:
        return {problem.check for problem in self.problems}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at,
            "grace_s": self.grace_s,
            "counts": self.counts,
            "problems": [problem.to_dict() for problem in self.problems],
            "by_subject": {f"{subject} {subject_id}": [p.check for p in problems]
                           for (subject, subject_id), problems in self.by_subject().items()},
        }

    def render_text(self) -> str:
        orders = self.counts.get("orders_by_status", {})
        summary = ", ".join(f"{status} {n}" for status, n in sorted(orders.items())) or "none"
        head = "AUDIT OK" if self.ok else f"AUDIT FAILED: {len(self.problems)} problem(s)"
        lines = [f"{head} (grace {self.grace_s:.0f} s; orders: {summary}; "
                 f"products {self.counts.get('products', 0)}, "
                 f"payments {self.counts.get('payments', 0)}, "
                 f"carts checking out {self.counts.get('carts_checking_out', 0)})"]
        for (subject, subject_id), problems in self.by_subject().items():
            lines.append(f"{subject} {subject_id}:")
            lines.extend(f"  - {p.check}: {p.message}" for p in problems)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render_text()


def _age_s(value: Any, now: float) -> float | None:
    at = epoch_s(value)
    return None if at is None else max(0.0, now - at)


def _order_items(order: dict[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in order.get("Items") or []:
        totals[str(line["Sku"])] = totals.get(str(line["Sku"]), 0) + int(line["Qty"])
    return totals


class _Auditor:
    """One audit run over rows already read."""

    def __init__(self, orders: list[dict[str, Any]], products: list[dict[str, Any]],
                 payments: list[dict[str, Any]], carts: list[dict[str, Any]],
                 grace_s: float, now: float) -> None:
        self.grace_s = grace_s
        self.now = now
        self.problems: list[Problem] = []
        self.rollbacks_in_flight = 0  # CANCELLED within the grace period: not judged yet
        self.orders = {str(o["OrderId"]): o for o in orders}
        self.products = {str(p["ProductId"]): p for p in products if p.get("TranId") == "0"}
        # order id -> sku -> action -> qty
        self.events: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        self.event_rows = [p for p in products if p.get("TranId") != "0"]
        for row in self.event_rows:
            order_id, _, action = str(row["TranId"]).rpartition("#")
            self.events[order_id][str(row["ProductId"])][action or str(row.get("Action"))] = \
                int(row.get("Qty", 0))
        self.payments = payments
        self.payments_by_key = {str(p["IdempotencyKey"]): p for p in payments}
        self.payments_by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for payment in payments:
            self.payments_by_order[str(payment.get("OrderId") or "")].append(payment)
        self.carts = carts

    def add(self, check: str, subject: str, subject_id: str, message: str,
            **details: Any) -> None:
        self.problems.append(Problem(check, subject, subject_id, message, details))

    # -- stock --------------------------------------------------------------------------------
    def check_products(self) -> None:
        moved: dict[str, dict[str, int]] = defaultdict(lambda: {"SUB": 0, "ADD": 0})
        for row in self.event_rows:
            action = str(row.get("Action") or str(row["TranId"]).rpartition("#")[2])
            if action in ("SUB", "ADD"):
                moved[str(row["ProductId"])][action] += int(row.get("Qty", 0))
        for sku in sorted(set(self.products) | set(moved)):
            product = self.products.get(sku)
            sub, add = moved[sku]["SUB"], moved[sku]["ADD"]
            if product is None:
                self.add("orphan_stock_event", "product", sku,
                         f"event rows (SUB {sub}, ADD {add}) for a product that does not exist")
                continue
            qty = int(product.get("Qty", 0))
            if qty < 0:
                self.add("negative_stock", "product", sku, f"Qty is {qty}", qty=qty)
            if "InitialQty" not in product:
                self.add("stock_not_conserved", "product", sku, "no InitialQty to check against")
                continue
            initial = int(product["InitialQty"])
            if initial != qty + sub - add:
                self.add("stock_not_conserved", "product", sku,
                         f"InitialQty {initial} != Qty {qty} + SUB {sub} - ADD {add} "
                         f"(= {qty + sub - add}; off by {qty + sub - add - initial:+d})",
                         initial_qty=initial, qty=qty, sub=sub, add=add,
                         off_by=qty + sub - add - initial)
        for order_id in sorted(set(self.events) - set(self.orders)):
            skus = sorted(self.events[order_id])
            self.add("orphan_stock_event", "order", order_id,
                     f"stock event rows for an order that does not exist ({', '.join(skus)})")

    # -- orders -------------------------------------------------------------------------------
    def payment_of(self, order: dict[str, Any]) -> dict[str, Any] | None:
        key = str(order.get("PaymentKey") or order["OrderId"])
        found = self.payments_by_key.get(key)
        if found is None and self.payments_by_order.get(str(order["OrderId"])):
            found = self.payments_by_order[str(order["OrderId"])][0]
        return found

    def check_order(self, order_id: str, order: dict[str, Any]) -> str:
        """Check one order; returns its class: terminal, in_flight or stuck."""
        status = str(order.get("Status"))
        age = _age_s(order.get("CreatedAt"), self.now)
        settled = age is None or age > self.grace_s
        rows = self.payments_by_order.get(order_id, [])
        if len(rows) > 1:
            self.add("double_charge", "order", order_id,
                     f"{len(rows)} payments rows: "
                     + ", ".join(f"{p['IdempotencyKey']}={p.get('Status')}" for p in rows),
                     payments=[p["IdempotencyKey"] for p in rows])
        payment = self.payment_of(order)
        amount = int(order.get("AmountCents", 0))
        if payment is not None and payment.get("Status") in ("CAPTURED", "REFUNDED") \
                and int(payment.get("AmountCents", 0)) != amount:
            self.add("amount_mismatch", "order", order_id,
                     f"payment {payment.get('Status')} {payment.get('AmountCents')} cents, "
                     f"order amount {amount} cents")
        if status not in TERMINAL:
            if settled:
                shown = "unknown age" if age is None else f"{age:.0f} s old"
                self.add("stuck_order", "order", order_id, f"{status}, {shown}",
                         status=status, age_s=age)
                return "stuck"
            return "in_flight"
        events = self.events.get(order_id, {})
        pay_status = payment.get("Status") if payment else None
        pay_key = payment.get("IdempotencyKey") if payment else None
        # the saga's rollback (void or refund, release) follows the cancellation: judge it once
        # the cancellation (UpdatedAt) is older than the grace period, not the order
        changed = _age_s(order.get("UpdatedAt"), self.now)
        rolled_back_by_now = changed is None or changed > self.grace_s
        if status == "CANCELLED" and not rolled_back_by_now:
            self.rollbacks_in_flight += 1
        elif status == "CANCELLED":
            if pay_status in HELD:
                self.add("cancelled_with_charge", "order", order_id,
                         f"payment {pay_key} is {pay_status}", payment_status=pay_status)
            for sku, moves in sorted(events.items()):
                if "SUB" in moves and "ADD" not in moves:
                    self.add("cancelled_with_reservation", "order", order_id,
                             f"{sku}: SUB {moves['SUB']} never released (no ADD row)", sku=sku)
                elif "SUB" in moves and moves["ADD"] != moves["SUB"]:
                    self.add("release_mismatch", "order", order_id,
                             f"{sku}: SUB {moves['SUB']} but ADD {moves['ADD']}", sku=sku)
        else:  # COMPLETED
            if pay_status != "CAPTURED":
                self.add("completed_without_capture", "order", order_id,
                         f"payment is {pay_status or 'missing'}", payment_status=pay_status)
            for sku, qty in sorted(_order_items(order).items()):
                sub = events.get(sku, {}).get("SUB")
                if sub != qty:
                    shown = "missing" if sub is None else sub
                    self.add("completed_without_reservation", "order", order_id,
                             f"{sku}: ordered {qty}, SUB row {shown}", sku=sku)
            for sku, moves in sorted(events.items()):
                if "ADD" in moves:
                    self.add("completed_with_release", "order", order_id,
                             f"{sku}: ADD {moves['ADD']} on a completed order", sku=sku)
        for sku, moves in sorted(events.items()):
            if "ADD" in moves and "SUB" not in moves:
                self.add("release_without_reservation", "order", order_id,
                         f"{sku}: ADD {moves['ADD']} without a SUB row", sku=sku)
        return "terminal"

    def check_orphan_payments(self) -> None:
        for payment in self.payments:
            order_id = str(payment.get("OrderId") or "")
            if order_id in self.orders or payment.get("Status") not in HELD:
                continue
            age = _age_s(payment.get("CreatedAt"), self.now)
            if age is None or age > self.grace_s:
                self.add("orphan_payment", "payment", str(payment["IdempotencyKey"]),
                         f"{payment.get('Status')} {payment.get('AmountCents')} cents for "
                         f"order {order_id or '?'} which does not exist")

    def check_carts(self) -> int:
        checking_out = 0
        for cart in self.carts:
            if not cart.get("CheckOut"):
                continue
            checking_out += 1
            order_id = str(cart.get("OrderId") or "")
            order = self.orders.get(order_id)
            if order is not None and order.get("Status") in TERMINAL:
                self.add("cart_left_checking_out", "cart", str(cart["CartId"]),
                         f"CheckOut = true for order {order_id} which is {order['Status']}",
                         order_id=order_id)
            elif order is None:
                age = _age_s(cart.get("UpdatedAt"), self.now)
                if age is None or age > self.grace_s:
                    self.add("cart_left_checking_out", "cart", str(cart["CartId"]),
                             f"CheckOut = true for order {order_id or '(none)'} which does "
                             "not exist", order_id=order_id)
        return checking_out

    def run(self) -> AuditReport:
        self.check_products()
        classes: Counter[str] = Counter()
        for order_id, order in sorted(self.orders.items()):
            classes[self.check_order(order_id, order)] += 1
        self.check_orphan_payments()
        checking_out = self.check_carts()
        event_actions = Counter(str(r.get("Action")) for r in self.event_rows)
        counts = {
            "orders": len(self.orders),
            "orders_by_status": dict(Counter(str(o.get("Status")) for o in self.orders.values())),
            "orders_in_flight": classes["in_flight"],
            "orders_stuck": classes["stuck"],
            "cancellations_rolling_back": self.rollbacks_in_flight,
            "products": len(self.products),
            "units_on_hand": sum(int(p.get("Qty", 0)) for p in self.products.values()),
            "stock_events": dict(event_actions),
            "payments": len(self.payments),
            "payments_by_status": dict(Counter(str(p.get("Status")) for p in self.payments)),
            "carts": len(self.carts),
            "carts_checking_out": checking_out,
            "problems_by_check": dict(Counter(p.check for p in self.problems)),
        }
        return AuditReport(self.now, self.grace_s, self.problems, counts)


# Whole-table scans are a batch read, not a request on a shopper's path: under the game day's
# load (60 req/s) one page of the orders table took the local emulator longer than the
# services' 2 s read timeout, three times over, and the audit failed with a ReadTimeoutError
# instead of answering. The audit waits as a batch job does (and reads past the services'
# fault hooks: an injected throttle is not a finding).
AUDIT_READ_TIMEOUT_S = 30.0
AUDITED_TABLES = ("orders", "products", "payments", "carts")  # TableNames attributes


def audit_client(settings: Settings) -> Any:
    """The DynamoDB client the audit reads with: a plain client, a long read timeout."""
    return plain_client("dynamodb", settings, read_timeout_s=AUDIT_READ_TIMEOUT_S)


def audit(settings: Settings, grace_s: float = DEFAULT_GRACE_S, now: float | None = None,
          ddb: Any = None, tables: Mapping[str, str] | None = None) -> AuditReport:
    """Read the shop's tables and reconcile them (see the module docstring for the checks).
    `tables` ({TableNames attribute: name}, e.g. a deployed stack's) overrides the names the
    settings' prefix gives."""
    ddb = ddb or audit_client(settings)
    names = {attr: (tables or {}).get(attr) or getattr(settings.tables, attr)
             for attr in AUDITED_TABLES}
    orders, products, payments, carts = (
        list(scan_items(ddb, names[attr], ConsistentRead=True)) for attr in AUDITED_TABLES)
    report = _Auditor(
        orders=[o for o in orders if not is_heartbeat(o)],
        products=products,
        payments=[p for p in payments if not is_heartbeat(p)],
        carts=carts,
        grace_s=grace_s,
        now=time.time() if now is None else now,
    ).run()
    log.info("audit: %s problem(s), counts %s", len(report.problems), report.counts)
    return report


def parser() -> argparse.ArgumentParser:
    """The CLI's arguments (also how the chaos `audit` probe reads its `args` on aws)."""
    found = argparse.ArgumentParser(prog="python -m reference_app.audit", description=__doc__)
    found.add_argument("--grace-s", type=float, default=DEFAULT_GRACE_S,
                       help="orders younger than this are in flight, not stuck")
    found.add_argument("--json", action="store_true", help="print the report as JSON")
    return found


def main(argv: list[str] | None = None) -> int:
    """CLI: print the report (text or JSON); exit status 1 when it found problems."""
    args = parser().parse_args(argv)
    report = audit(Settings.from_env(), grace_s=args.grace_s)
    sys.stdout.write((json.dumps(report.to_dict(), indent=2, sort_keys=True)
                      if args.json else report.render_text()) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
