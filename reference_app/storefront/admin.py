"""Admin routes (role admin): product price/stock update and the breakers' state."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from reference_app.auth import require_role
from reference_app.breaker import breaker_states
from reference_app.storefront.context import storefront
from reference_app.validation import AdminProductUpdateIn, check_sku, parse_body

bp = Blueprint("admin", __name__)


@bp.put("/v1/admin/products/<sku>")
def update_product(sku: str) -> ResponseReturnValue:
    require_role("admin")
    check_sku(sku)
    body = parse_body(AdminProductUpdateIn)
    return jsonify(storefront().catalog.update_product(sku, body.price_cents, body.qty))


@bp.get("/v1/admin/breakers")
def breakers() -> ResponseReturnValue:
    require_role("admin")
    return jsonify(breakers=breaker_states())
