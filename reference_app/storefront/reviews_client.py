"""Client of the reviews service, called through the reviews circuit breaker."""

from __future__ import annotations

from typing import Any

from reference_app.breaker import DependencyBreaker
from reference_app.config import Settings
from reference_app.dependency_errors import DependencyRejected
from reference_app.errors import ApiError
from reference_app.http_client import ServiceClient

# answers of the reviews service that are the client's to know, passed on as they are
PASSED_ON = {(404, "product_not_found"), (409, "write_conflict")}


class ReviewsClient:
    """Review/like writes and the COUNTS read of one product."""

    def __init__(self, settings: Settings, breaker: DependencyBreaker) -> None:
        self.http = ServiceClient("reviews", settings.reviews_url, settings)
        self.breaker = breaker

    def _call(self, method: str, path: str,
              body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        response = self.breaker.call(self.http.request, method, path, body)
        if response.status_code >= 400:
            rejected = DependencyRejected("reviews", response)
            if (rejected.remote_status, rejected.remote_code) in PASSED_ON:
                error = response.json()["error"]
                raise ApiError(rejected.remote_status, rejected.remote_code, error["message"],
                               error.get("field"))
            raise rejected
        return response.status_code, response.json()

    def counts(self, sku: str) -> dict[str, int]:
        """{"reviews": n, "likes": n} of `sku`."""
        _, body = self._call("GET", f"/v1/products/{sku}/counts")
        return {"reviews": int(body["reviews"]), "likes": int(body["likes"])}

    def add_review(self, sku: str, shopper_id: str, rating: int, text: str) -> dict[str, Any]:
        _, body = self._call("POST", f"/v1/products/{sku}/reviews",
                             {"shopper_id": shopper_id, "rating": rating, "text": text})
        return body

    def add_like(self, sku: str, shopper_id: str) -> tuple[bool, dict[str, Any]]:
        """(created, body): created is False when the shopper had already liked it."""
        status, body = self._call("POST", f"/v1/products/{sku}/likes",
                                  {"shopper_id": shopper_id})
        return status == 201, body
