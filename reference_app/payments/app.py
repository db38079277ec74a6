"""The payments service's Flask app factory and routes (service token required)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.routing import BaseConverter

from reference_app.auth import require_role
from reference_app.aws import dynamodb_client
from reference_app.config import Settings
from reference_app.errors import ApiError
from reference_app.payments.ledger import TRANSITIONS, Outcome, PaymentLedger, public_payment
from reference_app.service_app import base_app
from reference_app.validation import (
    PAYMENT_KEY_REGEX,
    AuthorizeIn,
    EmptyIn,
    check_id,
    parse_body,
)

SERVICE = "payments"
LEDGER_KEY = "shop.payments.ledger"
REPLAYED_HEADER = "Idempotent-Replayed"

bp = Blueprint("payments", __name__)


class PaymentKeyConverter(BaseConverter):
    """A payment key in a path: an identifier other than `authorize`, so that
    `/v1/payments/authorize` is only ever the authorise route (without it, that path also
    matched `GET /v1/payments/<key>`, and a 405 there advertised an undocumented GET)."""

    regex = PAYMENT_KEY_REGEX


def _ledger() -> PaymentLedger:
    return current_app.extensions[LEDGER_KEY]


def _answer(outcome: Outcome, created_status: int = 200) -> ResponseReturnValue:
    response = jsonify(public_payment(outcome.record))
    response.status_code = 200 if outcome.replayed else created_status
    response.headers[REPLAYED_HEADER] = "true" if outcome.replayed else "false"
    return response


@bp.post("/v1/payments/authorize")
def authorize() -> ResponseReturnValue:
    require_role("service")
    body = parse_body(AuthorizeIn)
    outcome = _ledger().authorize(body.idempotency_key, body.order_id, body.amount_cents)
    return _answer(outcome, created_status=201)


def _transition_view(operation: str) -> Callable[[str], ResponseReturnValue]:
    def view(key: str) -> ResponseReturnValue:
        require_role("service")
        check_id(key, "idempotency_key")
        parse_body(EmptyIn, optional=True)
        return _answer(_ledger().transition(key, operation))

    return view


for _operation in TRANSITIONS:
    bp.add_url_rule(f"/v1/payments/<payment_key:key>/{_operation}", endpoint=_operation,
                    view_func=_transition_view(_operation), methods=["POST"])


@bp.get("/v1/payments/<payment_key:key>")
def get_payment(key: str) -> ResponseReturnValue:
    require_role("service")
    check_id(key, "idempotency_key")
    row = _ledger().get(key)
    if row is None:
        raise ApiError(404, "payment_not_found", f"no payment with key {key}")
    return jsonify(public_payment(row))


def create_app(settings: Settings | None = None) -> Flask:
    """The payments app (settings from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = base_app(SERVICE, settings)
    app.url_map.converters["payment_key"] = PaymentKeyConverter
    app.extensions[LEDGER_KEY] = PaymentLedger(dynamodb_client(settings),
                                               settings.tables.payments)
    app.register_blueprint(bp)
    return app
