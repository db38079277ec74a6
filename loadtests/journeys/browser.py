"""Browsers: the bulk of a shop's traffic. They search, look at the weekly deals, open products.

Task weights (per browser action): product detail 5, search 3, weekly products 2.
Routes: POST /v1/shoppers (once), GET /v1/products?q={q}, GET /v1/weekly-products,
GET /v1/products/{sku}.
"""

from __future__ import annotations

from locust import task

from loadtests.journeys.base import SeededTaskSet, ShopUser, items_of, skus_of


class BrowseTasks(SeededTaskSet):
    @task(5)
    def product_detail(self) -> None:
        self.user.product_detail()

    @task(3)
    def search(self) -> None:
        user = self.user
        hits = skus_of(items_of(user.search().body))
        # Half the searches that found something end with a click on one of the results.
        if hits and user.data.chance(0.5):
            user.product_detail(user.data.pick(hits))

    @task(2)
    def weekly_products(self) -> None:
        self.user.weekly_products()


class BrowserUser(ShopUser):
    """Window shopping: reads only."""

    role = "browser"
    weight = 70
    tasks = [BrowseTasks]
