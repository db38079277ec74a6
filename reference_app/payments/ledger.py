"""The payments ledger in DynamoDB: one row per idempotency key, every change a conditional
write, so a retried authorise never creates a second charge and each transition happens once.

States: AUTHORIZED → CAPTURED → REFUNDED, or AUTHORIZED → VOIDED. Repeating a transition that
already happened is a replay (same record, `replayed=True`); any other transition is 409.

Void before authorise: voiding a key that has no record yet writes a VOIDED record (no order,
no amount), so an authorise with that key still in flight — sent by a caller that timed out
and gave up on it — is refused when it lands (409 `payment_voided`) instead of holding money
that nobody will capture or void.

A write whose answer was lost: the SDK retries a call whose answer it did not get (a read
timeout, a dropped connection), and when the first attempt had been applied the retry fails its
condition, which alone would look like a replay of an earlier call. Every write therefore
carries a token of its own call (`WriteToken`, a new one per call, as the carts' AddTokens do);
a failed condition on a row whose token is this call's is this call's own write: success, not a
replay (authorise answers 201, not 200).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from reference_app.clock import now_ms
from reference_app.ddb import from_item, is_condition_failure, to_attr
from reference_app.errors import ApiError

AUTHORIZED, CAPTURED, VOIDED, REFUNDED = "AUTHORIZED", "CAPTURED", "VOIDED", "REFUNDED"
TRANSITIONS = {  # operation: (from, to)
    "capture": (AUTHORIZED, CAPTURED),
    "void": (AUTHORIZED, VOIDED),
    "refund": (CAPTURED, REFUNDED),
}
WRITE_TOKEN = "WriteToken"


@dataclass
class Outcome:
    """A payment record and whether this call only replayed an earlier one."""

    record: dict[str, Any]
    replayed: bool


def _new_token() -> str:
    return uuid.uuid4().hex


def _written_by(row: dict[str, Any] | None, token: str) -> bool:
    """The row's last write was the call holding `token` (its answer was lost, then retried)."""
    return row is not None and row.get(WRITE_TOKEN) == token


def public_payment(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "idempotency_key": row["IdempotencyKey"],
        "order_id": row.get("OrderId"),
        "amount_cents": int(row.get("AmountCents", 0)),
        "status": row.get("Status"),
        "history": [{"status": h.get("Status"), "at_ms": h.get("AtMs")}
                    for h in row.get("History", [])],
        "created_at_ms": row.get("CreatedAt"),
        "updated_at_ms": row.get("UpdatedAt"),
    }


class PaymentLedger:
    """Conditional writes on `shop-payments`."""

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def get(self, key: str) -> dict[str, Any] | None:
        response = self.ddb.get_item(TableName=self.table, Key={"IdempotencyKey": {"S": key}},
                                     ConsistentRead=True)
        return from_item(response.get("Item"))

    def authorize(self, key: str, order_id: str, amount_cents: int) -> Outcome:
        now, token = now_ms(), _new_token()
        row = {
            "IdempotencyKey": key, "OrderId": order_id, "AmountCents": amount_cents,
            "Status": AUTHORIZED, "History": [{"Status": AUTHORIZED, "AtMs": now}],
            "CreatedAt": now, "UpdatedAt": now, WRITE_TOKEN: token,
        }
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={name: to_attr(value) for name, value in row.items()},
                ConditionExpression="attribute_not_exists(IdempotencyKey)",
            )
            return Outcome(row, replayed=False)
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
        existing = self.get(key) or {}
        if _written_by(existing, token):
            return Outcome(existing, replayed=False)
        if existing.get("Status") == VOIDED and "AmountCents" not in existing:
            raise ApiError(409, "payment_voided",
                           "this idempotency key was voided before it was authorised",
                           "idempotency_key")
        if existing.get("OrderId") != order_id or existing.get("AmountCents") != amount_cents:
            raise ApiError(409, "idempotency_key_reused",
                           "this idempotency key was used with a different order or amount",
                           "idempotency_key")
        return Outcome(existing, replayed=True)

    def transition(self, key: str, operation: str) -> Outcome:
        source, target = TRANSITIONS[operation]
        now, token = now_ms(), _new_token()
        try:
            response = self.ddb.update_item(
                TableName=self.table,
                Key={"IdempotencyKey": {"S": key}},
                UpdateExpression=("SET #s = :to, UpdatedAt = :now, "
                                  "History = list_append(History, :h), #w = :w"),
                ConditionExpression="#s = :from",
                ExpressionAttributeNames={"#s": "Status", "#w": WRITE_TOKEN},
                ExpressionAttributeValues={
                    ":to": to_attr(target), ":from": to_attr(source), ":now": to_attr(now),
                    ":h": to_attr([{"Status": target, "AtMs": now}]), ":w": to_attr(token),
                },
                ReturnValues="ALL_NEW",
            )
            return Outcome(from_item(response["Attributes"]) or {}, replayed=False)
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
        existing = self.get(key)
        if _written_by(existing, token):
            return Outcome(existing or {}, replayed=False)
        if existing is None and operation == "void":
            return self._void_unknown(key, now)
        if existing is None:
            raise ApiError(404, "payment_not_found", f"no payment with key {key}")
        if existing.get("Status") == target:
            return Outcome(existing, replayed=True)
        raise ApiError(409, "invalid_transition",
                       f"cannot {operation} a payment that is {existing.get('Status')}")

    def _void_unknown(self, key: str, now: int) -> Outcome:
        """Void a key never authorised: a VOIDED record without amount (see the module doc)."""
        token = _new_token()
        row = {"IdempotencyKey": key, "Status": VOIDED,
               "History": [{"Status": VOIDED, "AtMs": now}], "CreatedAt": now, "UpdatedAt": now,
               WRITE_TOKEN: token}
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={name: to_attr(value) for name, value in row.items()},
                ConditionExpression="attribute_not_exists(IdempotencyKey)",
            )
            return Outcome(row, replayed=False)
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
        existing = self.get(key)
        if _written_by(existing, token):
            return Outcome(existing or {}, replayed=False)
        return self.transition(key, "void")  # authorised meanwhile: void that
