"""Catalog routes: product detail, search, the weekly page, and review/like writes."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from reference_app.auth import require_role
from reference_app.storefront.catalog import SEARCH_CACHED_ITEMS, parse_query
from reference_app.storefront.context import storefront
from reference_app.validation import EmptyIn, ReviewIn, check_sku, parse_body, query_int

bp = Blueprint("catalog", __name__)

SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = SEARCH_CACHED_ITEMS


@bp.get("/v1/products")
def search_products() -> ResponseReturnValue:
    words = parse_query(request.args.get("q"))
    limit = query_int("limit", SEARCH_DEFAULT_LIMIT, 1, SEARCH_MAX_LIMIT)
    return jsonify(storefront().catalog.search(words, limit or SEARCH_DEFAULT_LIMIT))


@bp.get("/v1/products/<sku>")
def product_detail(sku: str) -> ResponseReturnValue:
    return jsonify(storefront().catalog.product_detail(check_sku(sku)))


@bp.get("/v1/weekly-products")
def weekly_products() -> ResponseReturnValue:
    return jsonify(storefront().catalog.weekly())


@bp.post("/v1/products/<sku>/reviews")
def add_review(sku: str) -> ResponseReturnValue:
    claims = require_role("shopper")
    check_sku(sku)
    body = parse_body(ReviewIn)
    result = storefront().catalog.add_review(sku, claims.subject, body.rating, body.text)
    return jsonify(result), 201


@bp.post("/v1/products/<sku>/likes")
def add_like(sku: str) -> ResponseReturnValue:
    claims = require_role("shopper")
    check_sku(sku)
    parse_body(EmptyIn, optional=True)
    created, result = storefront().catalog.add_like(sku, claims.subject)
    return jsonify(result), 201 if created else 200
