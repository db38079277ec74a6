"""Prometheus metrics of the shop (names and labels exactly as in docs/shop.md), the Flask hook
recording RED metrics per route template, and the `/metrics` view.

Metrics live in prometheus-client's default registry: one process serves one replica, so
there is one set per replica. Routes are labelled by their template (`/v1/carts/<cart_id>`), and
requests that match no route by `unmatched`, so label cardinality stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

HTTP_REQUESTS = Counter(
    "shop_http_requests_total", "HTTP requests answered",
    ["service", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "shop_http_request_duration_seconds", "Time to answer an HTTP request",
    ["service", "route", "method"],
)
BREAKER_STATE = Gauge(
    "shop_circuit_breaker_state", "1 for the current state of each circuit breaker",
    ["dependency", "state"],
)
BREAKER_TRANSITIONS = Counter(
    "shop_circuit_breaker_transitions_total", "Circuit breaker state changes seen by this replica",
    ["dependency", "from_state", "to_state"],
)
BREAKER_REJECTED = Counter(
    "shop_circuit_breaker_rejected_total", "Calls rejected without being tried (breaker open)",
    ["dependency"],
)
CACHE_REQUESTS = Counter(
    "shop_cache_requests_total", "Cache lookups", ["cache", "result"],
)
CART_OCC_CONFLICTS = Counter(
    "shop_cart_occ_conflicts_total", "Cart writes whose OCC condition failed (then retried)",
    ["operation"],
)
ORDERS = Counter("shop_orders_total", "Orders by lifecycle event", ["status"])
PAYMENT_DURATION = Histogram(
    "shop_payment_duration_seconds", "Duration of calls to the payments service",
    ["operation"],
)

UNMATCHED_ROUTE = "unmatched"
SCRAPE_HOOKS = "shop.metrics.scrape_hooks"


def add_scrape_hook(app: Flask, hook: Callable[[], None]) -> None:
    """Run `hook` before each /metrics answer (e.g. to refresh gauges from shared state)."""
    app.extensions.setdefault(SCRAPE_HOOKS, []).append(hook)


def install(app: Flask, service: str) -> None:
    """Record RED metrics for every request of `app` and serve GET /metrics."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_t0 = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        t0 = g.get("metrics_t0")
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        HTTP_REQUESTS.labels(service, route, request.method, str(response.status_code)).inc()
        if t0 is not None:
            HTTP_DURATION.labels(service, route, request.method).observe(
                time.perf_counter() - t0)
        return response

    @app.get("/metrics")
    def metrics_view() -> Response:
        for hook in app.extensions.get(SCRAPE_HOOKS, []):
            hook()
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(REGISTRY), headers={"Content-Type": content_type})
