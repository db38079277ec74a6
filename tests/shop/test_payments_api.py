"""The payments service over HTTP: service-token auth and idempotency of every operation."""

from __future__ import annotations

import uuid

import pytest
import requests

from reference_app.aws import dynamodb_client
from tests.shop.conftest import Shop

pytestmark = pytest.mark.integration
T = 10


def _key() -> str:
    return f"ord-{uuid.uuid4().hex}"


def _post(shop: Shop, path: str, json: dict | None = None,
          headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(f"{shop.payments}{path}", json=json, timeout=T,
                         headers=headers if headers is not None else shop.auth("t", "service"))


def _charges(shop: Shop, order_id: str) -> int:
    ddb = dynamodb_client(shop.settings)
    rows = ddb.scan(TableName=shop.settings.tables.payments,
                    FilterExpression="OrderId = :o",
                    ExpressionAttributeValues={":o": {"S": order_id}})["Items"]
    return len(rows)


def test_needs_a_service_token(shop: Shop) -> None:
    body = {"idempotency_key": _key(), "order_id": "o", "amount_cents": 1}
    assert _post(shop, "/v1/payments/authorize", body, headers={}).status_code == 401
    shopper = _post(shop, "/v1/payments/authorize", body, headers=shop.auth("x", "shopper"))
    assert shopper.status_code == 403
    assert shopper.json()["error"]["code"] == "forbidden"


def test_authorize_twice_charges_once(shop: Shop) -> None:
    key = _key()
    body = {"idempotency_key": key, "order_id": key, "amount_cents": 4200}
    first = _post(shop, "/v1/payments/authorize", body)
    second = _post(shop, "/v1/payments/authorize", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.headers["Idempotent-Replayed"] == "false"
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert first.json()["status"] == "AUTHORIZED" and len(first.json()["history"]) == 1
    assert _charges(shop, key) == 1

    other = _post(shop, "/v1/payments/authorize", {**body, "amount_cents": 4201})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert _charges(shop, key) == 1
    stored = requests.get(f"{shop.payments}/v1/payments/{key}",
                          headers=shop.auth("t", "service"), timeout=T).json()
    assert stored["amount_cents"] == 4200


def test_capture_refund_and_void_are_idempotent_transitions(shop: Shop) -> None:
    key = _key()
    _post(shop, "/v1/payments/authorize", {"idempotency_key": key, "order_id": key,
                                            "amount_cents": 100})
    captured = _post(shop, f"/v1/payments/{key}/capture")
    replay = _post(shop, f"/v1/payments/{key}/capture")
    assert (captured.status_code, replay.status_code) == (200, 200)
    assert captured.json()["status"] == "CAPTURED"
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(replay.json()["history"]) == 2
    void = _post(shop, f"/v1/payments/{key}/void")
    assert void.status_code == 409 and void.json()["error"]["code"] == "invalid_transition"
    assert _post(shop, f"/v1/payments/{key}/refund").json()["status"] == "REFUNDED"
    assert _post(shop, f"/v1/payments/{key}/refund").headers["Idempotent-Replayed"] == "true"

    voided = _key()
    _post(shop, "/v1/payments/authorize", {"idempotency_key": voided, "order_id": voided,
                                            "amount_cents": 100})
    assert _post(shop, f"/v1/payments/{voided}/void").json()["status"] == "VOIDED"
    assert _post(shop, f"/v1/payments/{voided}/void").headers["Idempotent-Replayed"] == "true"
    assert _post(shop, f"/v1/payments/{voided}/capture").status_code == 409


def test_unknown_keys_and_bad_bodies(shop: Shop) -> None:
    missing = _post(shop, f"/v1/payments/{_key()}/capture")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "payment_not_found"
    assert requests.get(f"{shop.payments}/v1/payments/{_key()}",
                        headers=shop.auth("t", "service"), timeout=T).status_code == 404
    bad = _post(shop, "/v1/payments/authorize",
                {"idempotency_key": _key(), "order_id": "o", "amount_cents": "100"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "amount_cents"
    extra = _post(shop, "/v1/payments/authorize",
                  {"idempotency_key": _key(), "order_id": "o", "amount_cents": 1, "x": 1})
    assert extra.status_code == 400 and extra.json()["error"]["code"] == "unknown_field"
    assert _post(shop, "/v1/payments/authorize", {"order_id": "o", "amount_cents": 1}) \
        .json()["error"]["field"] == "idempotency_key"
