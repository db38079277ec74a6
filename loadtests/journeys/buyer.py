"""Buyers: customers who come to buy one thing — the checkouts of a paced run (`--rate`).

One purchase: wait for a purchase slot (`--checkout-rate`, loadtests.pacing), look at a
product, add it to the cart, check out (POST /v1/carts/{cart_id}/checkout, 202) and follow the
order until COMPLETED or CANCELLED (or --order-poll-max polls); then a new customer signs up
for the next purchase (one order per shopper, as the chaos probe load does). A checkout shed
with 503 + Retry-After (the payments breaker open) keeps the cart and tries again at the next
slot; a 409 (the cart still held by an earlier checkout) hands over to a new customer.

Not in the weighted mix (weight 0, so `locust -f loadtests/locustfile.py` runs the four
classic journeys as before): the plugin adds buyers, as a fixed count, only to a paced run.
"""

from __future__ import annotations

from locust import task

from loadtests.journeys.base import SeededTaskSet
from loadtests.journeys.cart import CartSteps
from loadtests.outcomes import Verdict
from loadtests.pacing import pacers_for


class BuyTasks(SeededTaskSet):
    @task
    def purchase(self) -> None:
        user = self.user
        pacer = pacers_for(user.environment).purchases
        if pacer is not None:
            pacer.wait()
        if user.token is None and not user.sign_up():
            return
        if not user.cart:
            sku = user.data.sku()
            user.product_detail(sku)
            if not user.add_item(sku).ok:
                return
        reply = user.checkout_reply()
        if reply.verdict is Verdict.SHED:
            return  # the shop asked to come back later: same cart, next slot
        if reply.ok:
            order_id = user.order_id_of(reply)
            if order_id:
                user.follow_order(order_id)
        user.new_customer()


class BuyerUser(CartSteps):
    """One purchase at a time, paced by the purchase slots."""

    role = "buyer"
    weight = 0
    tasks = [BuyTasks]

    def wait_time(self) -> float:
        return 0.0  # the purchase slots are the pacing

    def new_customer(self) -> None:
        """The next purchase is someone else's: forget the cart and the token (the sign-up
        happens when the next slot comes)."""
        self.reset_cart()
        self.token = None
        self.shopper_id = None
