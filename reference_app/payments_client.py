"""Client of the payments service (authorise, capture, void, refund), called through the
payments circuit breaker and timed in `shop_payment_duration_seconds{operation}`.

Used by the storefront's checkout and, later, by the saga's stream handlers.
"""

from __future__ import annotations

import time
from typing import Any

from reference_app.breaker import DependencyBreaker
from reference_app.config import Settings
from reference_app.dependency_errors import DependencyRejected
from reference_app.http_client import ServiceClient
from reference_app.metrics import PAYMENT_DURATION


class PaymentsClient:
    """Payments operations keyed by idempotency key (= the order id)."""

    def __init__(self, settings: Settings, breaker: DependencyBreaker) -> None:
        self.http = ServiceClient("payments", settings.payments_url, settings)
        self.breaker = breaker

    def _call(self, operation: str, method: str, path: str,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
        def attempt() -> Any:
            t0 = time.perf_counter()
            try:
                return self.http.request(method, path, json=body)
            finally:
                PAYMENT_DURATION.labels(operation).observe(time.perf_counter() - t0)

        response = self.breaker.call(attempt)
        if response.status_code >= 400:
            raise DependencyRejected("payments", response)
        return response.json()

    def authorize(self, idempotency_key: str, order_id: str, amount_cents: int) -> dict[str, Any]:
        """Authorise `amount_cents` for `order_id`; replaying the same key is harmless."""
        return self._call("authorize", "POST", "/v1/payments/authorize", {
            "idempotency_key": idempotency_key, "order_id": order_id,
            "amount_cents": amount_cents,
        })

    def capture(self, idempotency_key: str) -> dict[str, Any]:
        return self._call("capture", "POST", f"/v1/payments/{idempotency_key}/capture")

    def void(self, idempotency_key: str) -> dict[str, Any]:
        return self._call("void", "POST", f"/v1/payments/{idempotency_key}/void")

    def refund(self, idempotency_key: str) -> dict[str, Any]:
        return self._call("refund", "POST", f"/v1/payments/{idempotency_key}/refund")

    def get(self, idempotency_key: str) -> dict[str, Any]:
        return self._call("get", "GET", f"/v1/payments/{idempotency_key}")
