"""shop-payment (orders stream): capture the payment authorised at checkout once stock is
reserved, and roll the payment back when the order is cancelled - the payments step of the saga.

- MODIFY to RESERVED: if the order (read consistently) is still RESERVED, POST
  `/v1/payments/{PaymentKey}/capture` (idempotent at payments), then order -> PAID IF
  `Status = RESERVED`. A 4xx answer (declined, unknown or voided payment) cancels the order with
  CancelReason PAYMENT_FAILED IF `Status = RESERVED`. Payments unreachable / 5xx / 429 (and
  401/403, a token misconfiguration): raise, the stream retries the record (a long outage is the
  seed-004 jam).
- MODIFY to CANCELLED: payments' rollback. GET the payment: AUTHORIZED -> void, CAPTURED ->
  refund, VOIDED / REFUNDED -> nothing, 404 -> void all the same: payments records the void,
  so an authorise of this order still on its way (its checkout timed out) is refused when it
  lands instead of holding money for a cancelled order. Every call is idempotent at payments
  (a replay answers 200), and refund is only ever asked for a CAPTURED payment, so nothing is
  refunded twice.

Calls carry a service token (HS256, SHOP_TOKEN_SECRET) and the order's correlation ID
(`reference_app.http_client.ServiceClient`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import requests

from reference_app.handlers import orders
from reference_app.handlers.common import (
    RecordContext,
    StreamRecord,
    on_reset,
    record_concurrency,
    run_batch,
    settings,
)
from reference_app.http_client import ServiceClient
from reference_app.metrics import PAYMENT_DURATION

FUNCTION_NAME = "shop-payment"
AUTHORIZED, CAPTURED, VOIDED, REFUNDED = "AUTHORIZED", "CAPTURED", "VOIDED", "REFUNDED"

_client: ServiceClient | None = None
_client_lock = threading.Lock()


# Answers that say nothing about the payment: throttled, or our token is refused (a
# configuration error must jam the stream, not cancel every order as "payment failed").
RETRY_STATUSES = {401, 403, 429}


class PaymentsUnavailable(RuntimeError):
    """Payments answered in a way that may succeed later: retry the record."""


def payments() -> ServiceClient:
    """The process's payments client (created on first use)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                caller = dataclasses.replace(settings(), service_name=FUNCTION_NAME)
                _client = ServiceClient("payments", caller.payments_url, caller)
    return _client


@on_reset
def reset_client() -> None:
    """Forget the client (a new cold start; tests change SHOP_PAYMENTS_URL between cases)."""
    global _client
    with _client_lock:
        _client = None


def _call(operation: str, method: str, key: str) -> requests.Response:
    """One payments call; DependencyError (connection, timeout, 5xx) propagates, 429 raises."""
    path = f"/v1/payments/{key}" if operation == "get" else f"/v1/payments/{key}/{operation}"
    t0 = time.perf_counter()
    try:
        response = payments().request(method, path)
    finally:
        PAYMENT_DURATION.labels(operation).observe(time.perf_counter() - t0)
    if response.status_code in RETRY_STATUSES:
        raise PaymentsUnavailable(
            f"payments answered {response.status_code} to {operation} of {key}")
    return response


def _payment_key(order: dict[str, Any]) -> str:
    return str(order.get("PaymentKey") or order["OrderId"])


def capture(order_id: str, ctx: RecordContext) -> str:
    """Capture and mark PAID; returns 'paid', 'failed' or 'skipped'.

    The order may be the batch's prefetched row, read when the invocation started
    (batch_reads): a status that is no longer RESERVED never returns to it, so 'skipped' stays
    right; an order cancelled after that read is captured, as one cancelled between the read
    and the capture always could be: its PAID transition then fails its condition, and the
    CANCELLED record that follows on the stream refunds the capture (rollback)."""
    current = orders.get_order(order_id)
    if current is None or current.get("Status") != orders.RESERVED:
        status = current.get("Status") if current else "missing"
        ctx.log.info("order %s is %s, not RESERVED: no capture", order_id, status)
        return "skipped"
    key = _payment_key(current)
    response = _call("capture", "POST", key)
    if response.ok:
        if orders.transition(order_id, orders.PAID, orders.RESERVED):
            ctx.log.info("captured payment %s; order %s PAID", key, order_id)
        else:
            ctx.log.info("captured payment %s; order %s already moved on", key, order_id)
        return "paid"
    ctx.log.warning("payments refused capture of %s: %s %s", key, response.status_code,
                    response.text[:200])
    if orders.transition(order_id, orders.CANCELLED, orders.RESERVED,
                         {"CancelReason": orders.PAYMENT_FAILED}):
        orders.count_order_event(orders.CANCELLED)
        ctx.log.info("order %s cancelled: payment failed", order_id)
    return "failed"


def _status_of(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("status") if isinstance(body, dict) else None


def rollback(order: dict[str, Any], ctx: RecordContext) -> str:
    """Void or refund the order's payment; returns what was done."""
    key = _payment_key(order)
    answer = _call("get", "GET", key)
    status = _status_of(answer) if answer.ok else None
    if answer.status_code == 404:
        ctx.log.info("order %s has no payment %s yet: voiding the key", order["OrderId"], key)
        status = AUTHORIZED  # void it before any authorise can land
    if status in (VOIDED, REFUNDED):
        ctx.log.info("payment %s already %s", key, status)
        return "already"
    if status == AUTHORIZED:
        operation = "void"
    elif status == CAPTURED:
        operation = "refund"
    else:
        raise RuntimeError(f"cannot read payment {key}: {answer.status_code} status={status}")
    response = _call(operation, "POST", key)
    if response.ok:
        ctx.log.info("payment %s: %s done (order %s cancelled)", key, operation,
                     order["OrderId"])
        return operation
    if response.status_code == 409:
        # The payment moved between the read and the call (e.g. a concurrent capture): read
        # it again on the retry of this record.
        raise RuntimeError(f"payment {key} changed during {operation}: {response.text[:200]}")
    ctx.log.error("payments refused %s of %s: %s %s; the audit will report it", operation, key,
                  response.status_code, response.text[:200])
    return "refused"


def _captures(record: StreamRecord) -> bool:
    """The order became RESERVED: its payment is to be captured."""
    return (record.event_name == "MODIFY" and record.new is not None
            and record.new.get("Status") == orders.RESERVED
            and record.old_value("Status") != orders.RESERVED)


def prefetch(record: StreamRecord) -> list[tuple[str, dict[str, Any]]]:
    """The order row `capture` reads (run_batch reads them for the batch in one
    BatchGetItem)."""
    return [orders.order_key(str((record.new or {})["OrderId"]))] if _captures(record) else []


def process(ctx: RecordContext) -> None:
    record = ctx.record
    if record.event_name != "MODIFY" or not record.new:
        return
    status, before = record.new.get("Status"), record.old_value("Status")
    if _captures(record):
        capture(str(record.new["OrderId"]), ctx)
    elif status == orders.CANCELLED and before != orders.CANCELLED:
        rollback(record.new, ctx)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (orders stream)."""
    return run_batch(event, FUNCTION_NAME, process, prefetch=prefetch,
                     concurrency=record_concurrency())
