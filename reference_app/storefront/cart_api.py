"""Cart routes: read, add, remove (owner only; OCC retries reported in X-OCC-Retries; an add
with an `Idempotency-Key` the cart already applied answers the cart, `Idempotent-Replayed`)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from reference_app.auth import require_role
from reference_app.errors import ApiError
from reference_app.service_app import current_settings
from reference_app.storefront.carts import RETRIES_HEADER, Cart, CartWrite
from reference_app.storefront.checkout import IDEMPOTENCY_HEADER
from reference_app.storefront.context import storefront
from reference_app.validation import AddItemIn, check_id, check_sku, parse_body, query_int

bp = Blueprint("carts", __name__)
REPLAYED_HEADER = "Idempotent-Replayed"


def owned_cart_id(cart_id: str) -> str:
    """The cart id, when the caller is the shopper who owns it (403 otherwise)."""
    claims = require_role("shopper")
    check_id(cart_id, "cart_id")
    if claims.subject != cart_id:
        raise ApiError(403, "forbidden", "this cart belongs to another shopper")
    return cart_id


def _written(write: CartWrite) -> ResponseReturnValue:
    response = jsonify(write.cart.to_json())
    response.headers[RETRIES_HEADER] = str(write.retries)
    return response


@bp.get("/v1/carts/<cart_id>")
def get_cart(cart_id: str) -> ResponseReturnValue:
    cart_id = owned_cart_id(cart_id)
    cart = storefront().carts.get(cart_id) or Cart(cart_id)
    return jsonify(cart.to_json())


@bp.post("/v1/carts/<cart_id>/items")
def add_item(cart_id: str) -> ResponseReturnValue:
    cart_id = owned_cart_id(cart_id)
    body = parse_body(AddItemIn, context={"max_item_qty": current_settings().max_item_qty})
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        check_id(key, IDEMPOTENCY_HEADER)
    shop = storefront()
    shop.catalog.require_product(body.sku)
    write = shop.carts.add_item(cart_id, body.sku, body.qty, token=key)
    response = _written(write)
    if write.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


@bp.delete("/v1/carts/<cart_id>/items/<sku>")
def remove_item(cart_id: str, sku: str) -> ResponseReturnValue:
    cart_id = owned_cart_id(cart_id)
    check_sku(sku)
    qty = query_int("qty", None, 1, current_settings().max_item_qty)
    return _written(storefront().carts.remove_item(cart_id, sku, qty))
