"""Bearer-token authentication and role checks for Flask views."""

from __future__ import annotations

from flask import current_app, g, request

from reference_app.errors import ApiError
from reference_app.tokens import Claims, TokenError, verify_token

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="shop"'}


def current_claims() -> Claims:
    """The verified claims of this request's bearer token; 401 when absent or invalid."""
    cached = g.get("claims")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "unauthorized", "missing Authorization: Bearer <token>",
                       headers=_CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Authorization must be 'Bearer <token>'",
                       headers=_CHALLENGE)
    secret = current_app.extensions["shop.settings"].token_secret
    try:
        claims = verify_token(token.strip(), secret=secret)
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.message, headers=_CHALLENGE) from exc
    g.claims = claims
    return claims


def require_role(*roles: str) -> Claims:
    """The claims of the caller, who must hold one of `roles` (403 otherwise)."""
    claims = current_claims()
    if claims.role not in roles:
        raise ApiError(403, "forbidden", f"this needs role {' or '.join(roles)}")
    return claims
