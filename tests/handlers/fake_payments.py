"""A small payments service for the handler tests: the documented contract (authorize, capture,
void, refund, get; idempotent replays; 409 on an invalid transition) on the real payments table,
with switches to decline captures or to be down, served by werkzeug in a thread on 127.0.0.1.

`FaultGate` can also wrap the real payments app (reference_app.payments.app) with the same
switches.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from reference_app.ddb import from_item, is_condition_failure, to_attr, to_item
from reference_app.tokens import TokenError, verify_token

TRANSITIONS = {"capture": ("AUTHORIZED", "CAPTURED"), "void": ("AUTHORIZED", "VOIDED"),
               "refund": ("CAPTURED", "REFUNDED")}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class FakePayments:
    """The payments contract over `table` (set per test: each test has its own tables)."""

    def __init__(self, ddb: Any, secret: str) -> None:
        self.ddb = ddb
        self.secret = secret
        self.table = ""

    def _get(self, key: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, Key={"IdempotencyKey": {"S": key}},
                                 ConsistentRead=True).get("Item")
        return from_item(item)

    @staticmethod
    def _public(row: dict[str, Any]) -> dict[str, Any]:
        return {"idempotency_key": row["IdempotencyKey"], "order_id": row.get("OrderId"),
                "amount_cents": row.get("AmountCents"), "status": row.get("Status")}

    def authorize(self, body: dict[str, Any]) -> Response:
        now = int(time.time() * 1000)
        row = {"IdempotencyKey": body["idempotency_key"], "OrderId": body["order_id"],
               "AmountCents": int(body["amount_cents"]), "Status": "AUTHORIZED",
               "History": [{"Status": "AUTHORIZED", "AtMs": now}], "CreatedAt": now,
               "UpdatedAt": now}
        try:
            self.ddb.put_item(TableName=self.table, Item=to_item(row),
                              ConditionExpression="attribute_not_exists(IdempotencyKey)")
            return _json(201, self._public(row))
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
        existing = self._get(row["IdempotencyKey"]) or {}
        if existing.get("Status") == "VOIDED" and "AmountCents" not in existing:
            return _json(409, {"error": {"code": "payment_voided"}})
        if (existing.get("OrderId"), existing.get("AmountCents")) != (row["OrderId"],
                                                                      row["AmountCents"]):
            return _json(409, {"error": {"code": "idempotency_key_reused"}})
        return _json(200, self._public(existing))

    def transition(self, key: str, operation: str) -> Response:
        source, target = TRANSITIONS[operation]
        now = int(time.time() * 1000)
        try:
            answer = self.ddb.update_item(
                TableName=self.table, Key={"IdempotencyKey": {"S": key}},
                UpdateExpression=("SET #s = :to, UpdatedAt = :now, "
                                  "History = list_append(History, :h)"),
                ConditionExpression="#s = :from", ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={":to": to_attr(target), ":from": to_attr(source),
                                           ":now": to_attr(now),
                                           ":h": to_attr([{"Status": target, "AtMs": now}])},
                ReturnValues="ALL_NEW")
            return _json(200, self._public(from_item(answer["Attributes"]) or {}))
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
        existing = self._get(key)
        if existing is None and operation == "void":  # void before authorise: record it
            row = {"IdempotencyKey": key, "Status": "VOIDED", "CreatedAt": now, "UpdatedAt": now,
                   "History": [{"Status": "VOIDED", "AtMs": now}]}
            self.ddb.put_item(TableName=self.table, Item=to_item(row))
            return _json(200, self._public(row))
        if existing is None:
            return _json(404, {"error": {"code": "payment_not_found"}})
        if existing.get("Status") == target:
            return _json(200, self._public(existing))
        return _json(409, {"error": {"code": "invalid_transition"}})

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        try:
            claims = verify_token(auth.removeprefix("Bearer "), secret=self.secret)
        except TokenError:
            return _json(401, {"error": {"code": "unauthorized"}})
        if claims.role != "service":
            return _json(403, {"error": {"code": "forbidden"}})
        parts = request.path.strip("/").split("/")  # v1 payments <key> [op]
        if parts[:2] != ["v1", "payments"] or len(parts) not in (3, 4):
            return _json(404, {"error": {"code": "not_found"}})
        if request.method == "POST" and parts[2] == "authorize":
            return self.authorize(request.get_json(force=True))
        if request.method == "GET" and len(parts) == 3:
            row = self._get(parts[2])
            return _json(200, self._public(row)) if row else _json(404, {"error": {}})
        if request.method == "POST" and len(parts) == 4 and parts[3] in TRANSITIONS:
            return self.transition(parts[2], parts[3])
        return _json(405, {"error": {"code": "method_not_allowed"}})


class FaultGate:
    """WSGI middleware: records calls, answers 503 while `down` (or for keys in `down_keys`),
    402 to captures of keys in `decline_capture`; everything else goes to the wrapped app."""

    def __init__(self, app: WSGIApp) -> None:
        self.default_app = app
        self.app = app
        self.down = False
        self.decline_capture: set[str] = set()
        self.down_keys: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def reset(self, app: WSGIApp | None = None) -> None:
        """Clear faults and calls; serve `app` from now on (default: the app given first)."""
        with self._lock:
            self.down = False
            self.decline_capture = set()
            self.down_keys = set()
            self.calls = []
            self.app = app or self.default_app

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, path in self.calls if m == method and path.endswith(suffix))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        with self._lock:
            self.calls.append((method, path))
        key = path.strip("/").split("/")[2] if path.count("/") >= 3 else ""
        if self.down or key in self.down_keys:
            return _json(503, {"error": {"code": "unavailable"}})(environ, start_response)
        if path.endswith("/capture") and key in self.decline_capture:
            return _json(402, {"error": {"code": "declined"}})(environ, start_response)
        return self.app(environ, start_response)


class ThreadedServer:
    """`app` on 127.0.0.1, a free port, in a daemon thread; `stop()` shuts it down."""

    def __init__(self, app: WSGIApp) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="fake-payments")
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
