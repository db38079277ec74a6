"""Checkout, the saga's first step (docs/shop.md, "Checkout"):

1. read the cart (non-empty, not checking out) and price it from the product rows;
2. authorise the amount at payments (idempotency key = the new order id) through the payments
   breaker — on failure or an open breaker: 503 + Retry-After, the cart untouched;
3. one TransactWriteItems: cart begin (OCC condition, OrderId set) + order put (PENDING);
4. if 3 fails, void the authorisation (payments' rollback) and answer 409 (the cart changed)
   or 503 (DynamoDB failed).
The rest of the saga runs from the orders stream.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from reference_app.breaker import DependencyUnavailable
from reference_app.clock import iso_week, now_s
from reference_app.ddb import cancellation_codes, error_code
from reference_app.errors import ApiError
from reference_app.metrics import ORDERS
from reference_app.payments_client import PaymentsClient
from reference_app.storefront.carts import CartRepository
from reference_app.storefront.catalog import CatalogService, effective_price
from reference_app.storefront.orders import STATUS_PENDING, OrderRepository

log = logging.getLogger(__name__)


def new_order_id() -> str:
    return f"ord-{uuid.uuid4().hex}"


class CheckoutService:
    """Places orders from carts."""

    def __init__(self, ddb: Any, carts: CartRepository, orders: OrderRepository,
                 catalog: CatalogService, payments: PaymentsClient) -> None:
        self.ddb = ddb
        self.carts = carts
        self.orders = orders
        self.catalog = catalog
        self.payments = payments

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

    def _void_quietly(self, order_id: str) -> None:
        try:
            self.payments.void(order_id)
        except ApiError as exc:
            log.error("order %s: could not void the authorisation (%s %s); it stays "
                      "AUTHORIZED at payments", order_id, exc.status, exc.message)

    def checkout(self, cart_id: str, owner: str, correlation_id: str,
                 trace_header: str = "") -> dict[str, Any]:
        cart = self.carts.get(cart_id)
        if cart is None or not cart.items:
            raise ApiError(409, "cart_empty", "the cart is empty")
        if cart.checking_out:
            raise ApiError(409, "cart_checking_out", "the cart is being checked out")
        lines, amount = self._price(cart.items)
        order_id = new_order_id()

        self.payments.authorize(order_id, order_id, amount)  # 503 on failure / open breaker

        now = now_s()
        order = {
            "OrderId": order_id, "Owner": owner, "Status": STATUS_PENDING, "Items": lines,
            "AmountCents": amount, "CartVersion": cart.version, "PaymentKey": order_id,
            "CorrelationId": correlation_id, "TraceHeader": trace_header,
            "CreatedAt": now, "UpdatedAt": now, "Version": 1,
        }
        try:
            self.ddb.transact_write_items(TransactItems=[
                self.carts.begin_checkout_update(cart, order_id),
                self.orders.put_new(order),
            ])
        except (ClientError, BotoCoreError) as exc:
            codes = cancellation_codes(exc)
            log.info("order %s: checkout transaction failed (%s %s); voiding", order_id,
                     error_code(exc) or type(exc).__name__, codes)
            self._void_quietly(order_id)
            if codes:
                raise ApiError(409, "cart_conflict",
                               "the cart changed during checkout; read it and try again") from exc
            raise DependencyUnavailable("dynamodb", "could not record the order", 1,
                                        rejected=False) from exc
        ORDERS.labels("placed").inc()
        log.info("order %s placed for cart %s (version %d): %d cents", order_id, cart_id,
                 cart.version, amount)
        return {"order_id": order_id, "status": STATUS_PENDING, "amount_cents": amount}
