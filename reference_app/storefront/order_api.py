"""Order routes: checkout of a cart and reading an order (owner only; 404 for others)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from reference_app import tracing
from reference_app.auth import require_role
from reference_app.errors import ApiError
from reference_app.storefront.cart_api import REPLAYED_HEADER, owned_cart_id
from reference_app.storefront.checkout import IDEMPOTENCY_HEADER
from reference_app.storefront.context import storefront
from reference_app.storefront.orders import public_order
from reference_app.validation import EmptyIn, check_id, parse_body

bp = Blueprint("orders", __name__)


@bp.post("/v1/carts/<cart_id>/checkout")
def checkout(cart_id: str) -> ResponseReturnValue:
    cart_id = owned_cart_id(cart_id)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        check_id(key, IDEMPOTENCY_HEADER)
    parse_body(EmptyIn, optional=True)
    # the order carries the trace on, so the stream handlers join this checkout's trace
    trace_header = tracing.current_trace_header() or request.headers.get("X-Amzn-Trace-Id", "")
    tracing.annotate("cart_id", cart_id)
    placed = storefront().checkout.checkout(
        cart_id, owner=cart_id, correlation_id=g.correlation_id, trace_header=trace_header[:256],
        idempotency_key=key,
    )
    tracing.annotate("order_id", placed.order_id)
    response = jsonify(placed.body())
    response.status_code = 202
    response.headers["Location"] = f"/v1/orders/{placed.order_id}"
    response.headers[REPLAYED_HEADER] = "true" if placed.replayed else "false"
    response.headers[IDEMPOTENCY_HEADER] = placed.idempotency_key
    return response


@bp.get("/v1/orders/<order_id>")
def get_order(order_id: str) -> ResponseReturnValue:
    claims = require_role("shopper")
    check_id(order_id, "order_id")
    row = storefront().orders.get(order_id)
    if row is None or row.get("Owner") != claims.subject:
        raise ApiError(404, "order_not_found", "no such order")
    return jsonify(public_order(row))
