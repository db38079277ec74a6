"""API errors and the Flask error handlers that turn every failure into the shop's JSON shape:
`{"error": {"code", "message", "field"?}, "correlation_id"}`.

Werkzeug's HTTP errors (404, 405, 413, ...) get stable codes; anything unexpected becomes a 500
with a generic message, and the exception is logged with its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from reference_app.correlation import get_correlation_id

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "body_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "too_many_requests",
    431: "headers_too_large",
}


class ApiError(Exception):
    """An error answered to the client as is: status, machine code, human message, field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error, "correlation_id": g.get("correlation_id") or get_correlation_id()}


def error_response(error: ApiError) -> Response:
    """The JSON response for an ApiError."""
    response = jsonify(error.body())
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def install(app: Flask) -> None:
    """Register the handlers on `app`."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        if error.status >= 500:
            log.warning("answering %s %s: %s", error.status, error.code, error.message)
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status >= 500:
            log.error("HTTP %s raised inside a view: %s", status, error)
            return error_response(ApiError(500, "internal_error", "internal server error"))
        code = HTTP_CODES.get(status, "http_error")
        message = error.description or error.name
        if status == 404:
            message = "no such resource"
        elif status == 413:
            message = "request body is too large"
        api_error = ApiError(status, code, message)
        for name, value in error.get_headers():
            if name.lower() == "allow":  # 405 says which methods the route has
                api_error.headers["Allow"] = value
        return error_response(api_error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled %s", type(error).__name__)
        return error_response(ApiError(500, "internal_error", "internal server error"))
