"""Checkout, the saga's first step (docs/shop.md, "Checkout").

The order exists before the charge, so every authorisation belongs to an order:

1. the order id is derived from the shopper, the request's `Idempotency-Key` (one is made up
   when the client sends none) and an attempt number, so a retried checkout finds the order of
   its first try: an accepted one is answered again as it is now (`Idempotent-Replayed:
   true`), one still AUTHORIZING is carried on from step 4, and one cancelled before it was
   accepted (CHECKOUT_FAILED, CHECKOUT_TIMEOUT) does not use the key up: the next attempt
   number is tried;
2. an open payments breaker answers 503 here, before anything is read or written; then read
   the cart (non-empty, not checking out) and price it;
3. one TransactWriteItems: cart begin (OCC condition, OrderId set) + order put (AUTHORIZING,
   in the sparse `open-checkouts` index);
4. authorise the amount at payments (idempotency key = the order id) through its breaker;
5. order AUTHORIZING -> PENDING (out of the index): 202; the saga continues from the stream.

Failures never hide what may have happened:
- the authorise certainly did not happen (breaker open, connection refused, payments answered
  4xx): the order row is deleted and the cart's checkout ended in one transaction, and the
  answer is 503 `dependency_unavailable` (or 502 `dependency_rejected`) — nothing was kept;
- the authorise may have happened (payments timed out or dropped the connection): the order is
  cancelled (CHECKOUT_FAILED) and the cart's checkout ended in one transaction; the saga voids
  the payment whenever payments answers again (payments records a void that arrives before its
  authorise, so a late authorise is refused). Answer: 503 `dependency_unavailable` naming the
  cancelled order — the outcome is known: nothing will be charged;
- DynamoDB's answer was lost (the order may or may not be written, accepted or cancelled): 503
  `outcome_unknown` with the order id and the key. A retry with the same key finds out and
  completes the checkout; without one, the transaction manager's sweeper cancels an order left
  AUTHORIZING after SHOP_CHECKOUT_TIMEOUT_S, and the saga voids and ends the cart's checkout.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from reference_app.breaker import DependencyUnavailable
from reference_app.clock import iso_week, now_s
from reference_app.ddb import cancellation_codes, error_code
from reference_app.dependency_errors import DependencyRejected, aws_failure
from reference_app.errors import ApiError
from reference_app.metrics import ORDERS
from reference_app.payments_client import PaymentsClient
from reference_app.storefront.carts import CartRepository
from reference_app.storefront.catalog import CatalogService, effective_price
from reference_app.storefront.orders import (
    CHECKOUT_OPEN,
    NOT_ACCEPTED,
    STATUS_AUTHORIZING,
    STATUS_CANCELLED,
    STATUS_PENDING,
    OrderRepository,
)

log = logging.getLogger(__name__)

ORDER_NAMESPACE = uuid.UUID("5d0c6a43-2f0e-4a9b-9a57-0d7c1f3e8b21")
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ATTEMPTS_PER_KEY = 20


def order_id_for(owner: str, idempotency_key: str, attempt: int = 0) -> str:
    """The order id of a shopper's checkout with this key (the same for every retry) and
    attempt number (the next one is used when an attempt's order was never accepted)."""
    name = f"{owner}\n{idempotency_key}\n{attempt}"
    return f"ord-{uuid.uuid5(ORDER_NAMESPACE, name).hex}"


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


@dataclass
class Placed:
    """A checkout's answer: the order, and whether it replays an earlier request's order."""

    order_id: str
    status: str
    amount_cents: int
    replayed: bool
    idempotency_key: str

    def body(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "status": self.status,
                "amount_cents": self.amount_cents}


class OutcomeUnknown(ApiError):
    """503 `outcome_unknown`: the order may have been placed; retry with the same key."""

    def __init__(self, order_id: str, idempotency_key: str, what: str,
                 timeout_s: float) -> None:
        super().__init__(
            503, "outcome_unknown",
            f"{what}: order {order_id} may or may not be placed. Retry with the same "
            f"{IDEMPOTENCY_HEADER} to complete it; if not retried within {timeout_s:.0f} s it "
            "is cancelled and any authorisation voided",
            headers={"Retry-After": "1", IDEMPOTENCY_HEADER: idempotency_key})
        self.order_id = order_id
        self.idempotency_key = idempotency_key

    def body(self) -> dict[str, Any]:
        return {**super().body(), "order_id": self.order_id,
                "idempotency_key": self.idempotency_key}


class CheckoutWithdrawn(DependencyUnavailable):
    """503 `dependency_unavailable` for a checkout whose order was cancelled because payments'
    answer was lost; the body names the order (its status shows what became of it)."""

    def __init__(self, cause: DependencyUnavailable, order_id: str) -> None:
        super().__init__(
            "payments", f"{cause.message}; order {order_id} is cancelled and whatever payments "
            "may have authorised for it will be voided: nothing is charged, the cart keeps its "
            "items", cause.retry_after_s, rejected=False)
        self.order_id = order_id

    def body(self) -> dict[str, Any]:
        return {**super().body(), "order_id": self.order_id}


class CheckoutService:
    """Places orders from carts."""

    def __init__(self, ddb: Any, carts: CartRepository, orders: OrderRepository,
                 catalog: CatalogService, payments: PaymentsClient,
                 checkout_timeout_s: float) -> None:
        self.ddb = ddb
        self.carts = carts
        self.orders = orders
        self.catalog = catalog
        self.payments = payments
        self.checkout_timeout_s = checkout_timeout_s

    def _price(self, items: dict[str, int]) -> tuple[list[dict[str, Any]], int]:
        rows = self.catalog.product_rows(list(items), consistent=True)
        missing = sorted(set(items) - set(rows))
        if missing:
            raise ApiError(409, "product_unavailable",
                           f"no longer sold: {', '.join(missing)}; remove it from the cart",
                           "sku")
        week = iso_week()
        lines = [{"Sku": sku, "Qty": qty, "PriceCents": effective_price(rows[sku], week)}
                 for sku, qty in sorted(items.items())]
        return lines, sum(line["Qty"] * line["PriceCents"] for line in lines)

    def checkout(self, cart_id: str, owner: str, correlation_id: str,
                 trace_header: str = "", idempotency_key: str | None = None) -> Placed:
        key = idempotency_key or new_idempotency_key()
        for attempt in range(MAX_ATTEMPTS_PER_KEY):
            order_id = order_id_for(owner, key, attempt)
            # a key made up just now has no order yet: no need to look
            existing = self.orders.get(order_id) if idempotency_key else None
            if existing is None:
                break
            if not (existing.get("Status") == STATUS_CANCELLED
                    and existing.get("CancelReason") in NOT_ACCEPTED):
                return self._resume(existing, key)
        else:
            raise ApiError(409, "idempotency_key_exhausted",
                           f"{MAX_ATTEMPTS_PER_KEY} checkouts with this {IDEMPOTENCY_HEADER} "
                           "failed; use a new key", IDEMPOTENCY_HEADER)

        self.payments.breaker.reject_if_open()  # nothing read or written yet: a fast, clean 503
        cart = self.carts.get(cart_id)
        if cart is None or not cart.items:
            raise ApiError(409, "cart_empty", "the cart is empty")
        if cart.checking_out:
            raise ApiError(409, "cart_checking_out", "the cart is being checked out")
        lines, amount = self._price(cart.items)

        now = now_s()
        order = {
            "OrderId": order_id, "Owner": owner, "Status": STATUS_AUTHORIZING, "Items": lines,
            "AmountCents": amount, "CartVersion": cart.version, "PaymentKey": order_id,
            "CorrelationId": correlation_id, "TraceHeader": trace_header,
            "CheckoutOpen": CHECKOUT_OPEN, "CreatedAt": now, "UpdatedAt": now, "Version": 1,
        }
        try:
            self.ddb.transact_write_items(TransactItems=[
                self.carts.begin_checkout_update(cart, order_id),
                self.orders.put_new(order),
            ])
        except (ClientError, BotoCoreError) as exc:
            if cancellation_codes(exc):
                raced = self.orders.get(order_id)  # a concurrent retry with the same key?
                if raced is not None:
                    return self._resume(raced, key)
                raise ApiError(409, "cart_conflict",
                               "the cart changed during checkout; read it and try again") from exc
            self._aws_failed(exc, order_id, key, "recording the order")
        log.info("order %s opened for cart %s (version %d): %d cents", order_id, cart_id,
                 cart.version, amount)
        return self._authorise_and_accept(order, key)

    def _resume(self, order: dict[str, Any], key: str) -> Placed:
        if order.get("Status") == STATUS_AUTHORIZING:
            log.info("order %s: checkout retried with its key; carrying it on", order["OrderId"])
            return self._authorise_and_accept(order, key)
        return Placed(order["OrderId"], str(order.get("Status")),
                      int(order.get("AmountCents", 0)), replayed=True, idempotency_key=key)

    def _authorise_and_accept(self, order: dict[str, Any], key: str) -> Placed:
        order_id, amount = str(order["OrderId"]), int(order["AmountCents"])
        try:
            self.payments.authorize(order_id, order_id, amount)
        except DependencyUnavailable as exc:
            cause = exc.__cause__
            if exc.rejected or not getattr(cause, "maybe_applied", True):
                self._abandon(order, key, exc)
                raise
            self._withdraw(order, key, exc)
            raise CheckoutWithdrawn(exc, order_id) from exc
        except DependencyRejected as exc:
            self._abandon(order, key, exc)
            raise
        try:
            accepted = self.orders.accept(order_id)
        except (ClientError, BotoCoreError) as exc:
            raise OutcomeUnknown(order_id, key, "DynamoDB did not confirm the order",
                                 self.checkout_timeout_s) from exc
        if not accepted:  # a concurrent retry accepted it, or the sweeper cancelled it
            current = self.orders.get(order_id) or order
            return Placed(order_id, str(current.get("Status")), amount, replayed=True,
                          idempotency_key=key)
        ORDERS.labels("placed").inc()
        log.info("order %s placed: %d cents authorised", order_id, amount)
        return Placed(order_id, STATUS_PENDING, amount, replayed=False, idempotency_key=key)

    def _abandon(self, order: dict[str, Any], key: str, reason: ApiError) -> None:
        """Nothing was charged: delete the AUTHORIZING order and end the cart's checkout, so the
        failure answered leaves nothing behind (and a retry with the same key starts anew)."""
        order_id = str(order["OrderId"])
        try:
            self.ddb.transact_write_items(TransactItems=[
                self.orders.delete_authorizing(order_id),
                self.carts.abandon_checkout_update(str(order["Owner"]), order_id),
            ])
        except (ClientError, BotoCoreError) as exc:
            if cancellation_codes(exc):  # no longer AUTHORIZING: accepted or swept meanwhile
                log.info("order %s moved on before its checkout could be abandoned", order_id)
                current = self.orders.get(order_id)
                if current is None or current.get("Status") != STATUS_AUTHORIZING:
                    return
            raise OutcomeUnknown(order_id, key, f"{reason.message}; and the order could not be "
                                 f"withdrawn ({error_code(exc) or type(exc).__name__})",
                                 self.checkout_timeout_s) from exc
        log.info("order %s withdrawn before any charge (%s %s)", order_id, reason.status,
                 reason.code)

    def _withdraw(self, order: dict[str, Any], key: str, reason: ApiError) -> None:
        """The authorise may have happened: cancel the order (the saga voids the payment) and
        end the cart's checkout in one transaction."""
        order_id = str(order["OrderId"])
        try:
            self.ddb.transact_write_items(TransactItems=[
                self.orders.cancel_authorizing(order_id),
                self.carts.abandon_checkout_update(str(order["Owner"]), order_id),
            ])
        except (ClientError, BotoCoreError) as exc:
            raise OutcomeUnknown(order_id, key, f"{reason.message}; and the order could not be "
                                 f"cancelled ({error_code(exc) or type(exc).__name__})",
                                 self.checkout_timeout_s) from exc
        log.info("order %s cancelled: the authorise's outcome is unknown (%s)", order_id,
                 reason.message)

    def _aws_failed(self, exc: Exception, order_id: str, key: str, what: str) -> None:
        """Raise the answer to a DynamoDB failure while `what`."""
        answer = aws_failure(exc, write=True)
        if answer is None:
            raise exc
        if answer.code == "outcome_unknown":
            raise OutcomeUnknown(order_id, key, f"DynamoDB did not answer while {what}",
                                 self.checkout_timeout_s) from exc
        raise answer from exc
