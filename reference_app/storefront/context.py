"""The storefront's wiring: every dependency object of one app, built once in create_app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from flask import current_app

from reference_app.aws import dynamodb_client
from reference_app.breaker import REGISTRY_KEY, BreakerRegistry
from reference_app.cache import Cache
from reference_app.config import Settings
from reference_app.payments_client import PaymentsClient
from reference_app.redis_conn import RedisGuard, key_prefix, make_redis
from reference_app.storefront.carts import CartRepository
from reference_app.storefront.catalog import CatalogService
from reference_app.storefront.checkout import CheckoutService
from reference_app.storefront.orders import OrderRepository
from reference_app.storefront.reviews_client import ReviewsClient

CONTEXT_KEY = "shop.storefront"


@dataclass
class Storefront:
    """Everything the storefront's views use."""

    settings: Settings
    ddb: Any
    redis: redis.Redis
    cache: Cache
    breakers: BreakerRegistry
    payments: PaymentsClient
    reviews: ReviewsClient
    catalog: CatalogService
    carts: CartRepository
    orders: OrderRepository
    checkout: CheckoutService

    @classmethod
    def build(cls, settings: Settings) -> Storefront:
        ddb = dynamodb_client(settings)
        client = make_redis(settings)
        prefix = key_prefix(settings)
        cache = Cache(client, prefix, settings.cache_ttl_s, RedisGuard("cache"))
        breakers = BreakerRegistry(settings, client, prefix, ("payments", "reviews"))
        payments = PaymentsClient(settings, breakers["payments"])
        reviews = ReviewsClient(settings, breakers["reviews"])
        catalog = CatalogService(ddb, settings.tables, cache, reviews,
                                 search_ttl_s=settings.search_cache_ttl_s)
        carts = CartRepository(ddb, settings.tables.carts, settings.cart_max_attempts,
                               settings.max_cart_lines, settings.max_item_qty)
        orders = OrderRepository(ddb, settings.tables.orders)
        checkout = CheckoutService(ddb, carts, orders, catalog, payments,
                                   settings.checkout_timeout_s)
        return cls(settings, ddb, client, cache, breakers, payments, reviews, catalog, carts,
                   orders, checkout)

    def install(self, app: Any) -> None:
        app.extensions[CONTEXT_KEY] = self
        app.extensions[REGISTRY_KEY] = self.breakers

    def close(self) -> None:
        self.payments.http.close()
        self.reviews.http.close()
        self.redis.close()


def storefront() -> Storefront:
    """The Storefront of the app serving the current request."""
    return current_app.extensions[CONTEXT_KEY]
