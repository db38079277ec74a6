"""The reviews service's Flask app factory and routes (service token required)."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from reference_app.auth import require_role
from reference_app.aws import dynamodb_client
from reference_app.config import Settings
from reference_app.reviews.store import ReviewStore
from reference_app.service_app import base_app
from reference_app.validation import ServiceLikeIn, ServiceReviewIn, check_sku, parse_body

SERVICE = "reviews"
STORE_KEY = "shop.reviews.store"

bp = Blueprint("reviews", __name__)


def _store() -> ReviewStore:
    return current_app.extensions[STORE_KEY]


@bp.post("/v1/products/<sku>/reviews")
def add_review(sku: str) -> ResponseReturnValue:
    require_role("service")
    check_sku(sku)
    body = parse_body(ServiceReviewIn)
    return jsonify(_store().add_review(sku, body.shopper_id, body.rating, body.text)), 201


@bp.post("/v1/products/<sku>/likes")
def add_like(sku: str) -> ResponseReturnValue:
    require_role("service")
    check_sku(sku)
    body = parse_body(ServiceLikeIn)
    created, result = _store().add_like(sku, body.shopper_id)
    return jsonify(result), 201 if created else 200


@bp.get("/v1/products/<sku>/counts")
def counts(sku: str) -> ResponseReturnValue:
    require_role("service")
    check_sku(sku)
    return jsonify(sku=sku, **_store().counts(sku))


def create_app(settings: Settings | None = None) -> Flask:
    """The reviews app (settings from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = base_app(SERVICE, settings)
    app.extensions[STORE_KEY] = ReviewStore(dynamodb_client(settings), settings.tables.reviews,
                                                 settings.tables.products)
    app.register_blueprint(bp)
    return app
