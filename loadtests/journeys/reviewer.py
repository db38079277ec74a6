"""Reviewers: read a product, then write a review or like it.

Task weights: product detail 4, like 3, review 2, weekly products 1.
Routes: POST /v1/shoppers (once), GET /v1/products/{sku}, POST /v1/products/{sku}/reviews
(`{"rating", "text"}`, 201), POST /v1/products/{sku}/likes (201, or 200 when already liked),
GET /v1/weekly-products. Reviews and likes go through the storefront's reviews breaker: 503 +
Retry-After while it is open is counted as shed (loadtests.outcomes).
"""

from __future__ import annotations

from locust import task

from loadtests.calls import call, path_of
from loadtests.journeys.base import SeededTaskSet, ShopUser
from loadtests.outcomes import LIKES, REVIEWS


class ReviewTasks(SeededTaskSet):
    @task(4)
    def product_detail(self) -> None:
        self.user.product_detail()

    @task(3)
    def like(self) -> None:
        user = self.user
        call(user, "POST", LIKES, path_of(LIKES, sku=user.data.sku()), json={})

    @task(2)
    def review(self) -> None:
        user = self.user
        body = {"rating": user.data.rating(), "text": user.data.review_text()}
        call(user, "POST", REVIEWS, path_of(REVIEWS, sku=user.data.sku()), json=body)

    @task(1)
    def weekly_products(self) -> None:
        self.user.weekly_products()


class ReviewerUser(ShopUser):
    """A customer who writes reviews and likes products."""

    role = "reviewer"
    weight = 7
    tasks = [ReviewTasks]
