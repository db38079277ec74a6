"""Cart and order steps shared by shoppers and cart-contention devices.

A user keeps a local mirror of its cart (sku -> qty) refreshed from every cart the shop
returns, so removals and checkouts target what is really in the cart.
"""

from __future__ import annotations

import time
from typing import Any

from loadtests.calls import Reply, call, path_of
from loadtests.counters import counters_for
from loadtests.journeys.base import ShopUser, field_of
from loadtests.outcomes import CART, CART_ITEM, CART_ITEMS, CHECKOUT, ORDER

TERMINAL_STATUSES = frozenset({"COMPLETED", "CANCELLED"})


def cart_items(body: Any) -> dict[str, int] | None:
    """sku -> qty from a cart answer (`items` as a map or a list), None if not a cart."""
    items = field_of(body, "items", "Items")
    if isinstance(items, dict):
        return {str(sku): int(qty) for sku, qty in items.items() if int(qty) > 0}
    if isinstance(items, list):
        out: dict[str, int] = {}
        for item in items:
            sku = field_of(item, "sku", "Sku", "product_id")
            qty = field_of(item, "qty", "Qty", "quantity")
            if sku is not None and qty is not None and int(qty) > 0:
                out[str(sku)] = int(qty)
        return out
    return None


class CartSteps(ShopUser):
    """Cart, checkout and order-status steps; the cart id is the owner's shopper id."""

    abstract = True
    allow_stale_removes = False

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.cart: dict[str, int] = {}
        self.cart_known = False  # the shop has a cart for us (we added something once)
        self.cart_checking_out = False

    @property
    def cart_id(self) -> str:
        return str(self.shopper_id)

    def _adopt_cart(self, reply: Reply) -> None:
        items = cart_items(reply.body) if reply.ok else None
        if items is not None:
            self.cart = items
            self.cart_known = True
            self.cart_checking_out = bool(field_of(reply.body, "checking_out", "CheckOut"))

    def add_item(self, sku: str | None = None) -> Reply:
        sku = sku or self.data.sku()
        body = {"sku": sku, "qty": self.data.quantity()}
        reply = call(self, "POST", CART_ITEMS, path_of(CART_ITEMS, cart_id=self.cart_id),
                     json=body)
        if reply.ok:
            self.cart_known = True
            self._adopt_cart(reply)
        return reply

    def remove_item(self) -> Reply | None:
        if not self.cart:
            return None
        sku = self.data.pick(sorted(self.cart))
        path = path_of(CART_ITEM, {"qty": 1}, cart_id=self.cart_id, sku=sku)
        reply = call(self, "DELETE", CART_ITEM, path, allow_stale=self.allow_stale_removes)
        self._adopt_cart(reply)
        if not reply.ok and self.allow_stale_removes:
            self.cart.pop(sku, None)
        return reply

    def view_cart(self) -> Reply | None:
        if not self.cart_known:
            return None
        reply = call(self, "GET", CART, path_of(CART, cart_id=self.cart_id))
        self._adopt_cart(reply)
        return reply

    def checkout(self) -> str | None:
        """Check the cart out; the new order's id when the shop accepted it."""
        return self.order_id_of(self.checkout_reply())

    def checkout_reply(self) -> Reply:
        """Check the cart out; the shop's answer."""
        return call(self, "POST", CHECKOUT, path_of(CHECKOUT, cart_id=self.cart_id), json={})

    @staticmethod
    def order_id_of(reply: Reply) -> str | None:
        """The new order's id of an accepted checkout, else None."""
        if not reply.ok:
            return None
        order_id = field_of(reply.body, "order_id", "OrderId")
        return str(order_id) if order_id else None

    def follow_order(self, order_id: str) -> str | None:
        """Poll the order until a terminal status or --order-poll-max polls; the last status."""
        settings = self.run_config
        status: str | None = None
        for poll in range(settings.order_poll_max):
            if poll:
                time.sleep(settings.order_poll_interval)
            reply = call(self, "GET", ORDER, path_of(ORDER, order_id=order_id))
            if reply.ok:
                status = str(field_of(reply.body, "status", "Status") or "")
                if status in TERMINAL_STATUSES:
                    self.count_order(status)
                    return status
        self.count_order("poll_bound_reached")
        return status

    def reset_cart(self) -> None:
        self.cart, self.cart_known, self.cart_checking_out = {}, False, False

    def new_session(self) -> None:
        """A new customer takes over this simulated user: new shopper, new (empty) cart."""
        self.reset_cart()
        self.sign_up()

    def count_order(self, outcome: str) -> None:
        counters_for(self.environment).add(f"orders.{outcome}", ORDER)
