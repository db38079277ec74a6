"""Shoppers: browse, fill a cart, sometimes check out and follow the order to its end.

Task weights: product detail 4, add to cart 4, search 2, view cart 2, remove an item 1,
checkout 1 (with 20% of the users being shoppers that is ~2% of all actions, as in real shops
where a few percent of sessions buy). A checkout (POST /v1/carts/{cart_id}/checkout, 202) is
followed by order-status polls (GET /v1/orders/{order_id}) until COMPLETED or CANCELLED or
--order-poll-max polls, then the cart is read again; if the saga still holds the cart
(`checking_out`), the session ends and a new customer (new sign-up) takes over. A shopper's own
409 (its cart still being checked out) is an expected conflict.
"""

from __future__ import annotations

from locust import task

from loadtests.journeys.base import SeededTaskSet
from loadtests.journeys.cart import CartSteps


class ShopTasks(SeededTaskSet):
    @task(4)
    def product_detail(self) -> None:
        self.user.product_detail()

    @task(4)
    def add_to_cart(self) -> None:
        user = self.user
        sku = user.data.sku()
        user.product_detail(sku)  # people look at a product before they add it
        user.add_item(sku)

    @task(2)
    def search(self) -> None:
        self.user.search()

    @task(2)
    def view_cart(self) -> None:
        if self.user.view_cart() is None:
            self.user.add_item()

    @task(1)
    def remove_item(self) -> None:
        if self.user.remove_item() is None:
            self.user.add_item()

    @task(1)
    def checkout(self) -> None:
        user = self.user
        if not user.cart:
            user.add_item()
            return
        order_id = user.checkout()
        if order_id:
            user.follow_order(order_id)
        user.view_cart()
        if user.cart_checking_out:
            # The saga has not released the cart within the poll bound: this customer is done
            # (their order goes on without them); a new one arrives instead of editing a cart
            # that would answer 409 until the saga ends.
            user.new_session()


class ShopperUser(CartSteps):
    """A customer with a cart of their own, on one device."""

    role = "shopper"
    weight = 20
    tasks = [ShopTasks]
