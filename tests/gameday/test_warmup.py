"""The warm-up order checks out as a client of the shop must: a 503 with Retry-After (payments
timed out on a cold replica of a busy machine) is retried, a 500 or a third 503 is not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gameday.run import warmup


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return str(self.body)

    def json(self) -> dict[str, Any]:
        return self.body


class FakeShop:
    def __init__(self, checkouts: list[Answer]) -> None:
        self.checkouts = list(checkouts)
        self.checkout_headers: list[dict[str, str]] = []

    def post(self, url: str, json: Any = None, headers: Any = None, timeout: float = 0) -> Answer:
        if url.endswith("/v1/shoppers"):
            return Answer(201, {"shopper_id": "shp-1", "token": "tok"})
        if url.endswith("/items"):
            return Answer(200)
        self.checkout_headers.append(dict(headers or {}))
        return self.checkouts.pop(0)

    def get(self, url: str, headers: Any = None, timeout: float = 0) -> Answer:
        return Answer(200, {"status": "COMPLETED"})


SHED = Answer(503, {"error": {"code": "dependency_unavailable"}}, {"Retry-After": "0"})
UNKNOWN = Answer(503, {"error": {"code": "outcome_unknown"}},
                 {"Retry-After": "0", "Idempotency-Key": "key-1"})
ACCEPTED = Answer(202, {"order_id": "ord-1"})


def _run(monkeypatch: pytest.MonkeyPatch, shop: FakeShop) -> dict[str, Any]:
    monkeypatch.setattr(warmup.requests, "post", shop.post)
    monkeypatch.setattr(warmup.requests, "get", shop.get)
    monkeypatch.setattr(warmup, "_sku", lambda storefront: "SKU-00001")
    return warmup.smoke_order("http://127.0.0.1:9", timeout_s=5)


def test_a_shed_checkout_is_retried_with_the_key_the_shop_sent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    shop = FakeShop([SHED, UNKNOWN, ACCEPTED])
    order = _run(monkeypatch, shop)
    assert order["status"] == "COMPLETED" and order["checkout_attempts"] == 3
    assert "Idempotency-Key" not in shop.checkout_headers[1]
    assert shop.checkout_headers[2]["Idempotency-Key"] == "key-1"


def test_a_checkout_that_keeps_failing_fails_the_warm_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(warmup.WarmupFailed, match=r"503 \(3 attempt"):
        _run(monkeypatch, FakeShop([SHED, SHED, SHED]))
    with pytest.raises(warmup.WarmupFailed, match=r"500 \(1 attempt"):
        _run(monkeypatch, FakeShop([Answer(500)]))
