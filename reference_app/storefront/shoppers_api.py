"""POST /v1/shoppers: a new shopper id and its token (there is no shopper table)."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from reference_app.service_app import current_settings
from reference_app.tokens import issue_token
from reference_app.validation import CreateShopperIn, parse_body

bp = Blueprint("shoppers", __name__)


@bp.post("/v1/shoppers")
def create_shopper() -> ResponseReturnValue:
    body = parse_body(CreateShopperIn, optional=True)
    settings = current_settings()
    shopper_id = f"shp-{uuid.uuid4().hex}"
    token = issue_token(shopper_id, "shopper", secret=settings.token_secret,
                        ttl_s=settings.token_ttl_s)
    return jsonify(shopper_id=shopper_id, name=body.name, token=token), 201
