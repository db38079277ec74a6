"""Correlation IDs (seed 004): one ID per request, on every log line and every outgoing call.

The ID comes from the request's `X-Correlation-ID` header when it is well formed (at most 128
characters of `[A-Za-z0-9._:-]`), else a new uuid4 hex is generated. It lives in a contextvar,
is returned on every response and is forwarded by `reference_app.http_client`.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from flask import Flask, Response, g, request

HEADER = "X-Correlation-ID"
NO_ID = "-"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_correlation_id() -> str:
    """A fresh correlation ID (uuid4 hex)."""
    return uuid.uuid4().hex


def is_valid(value: str | None) -> bool:
    """True when `value` may be used as a correlation ID as received."""
    return bool(value) and _VALID.fullmatch(value or "") is not None


def get_correlation_id() -> str | None:
    """The correlation ID of the current request or scope, None outside one."""
    return _current.get()


def set_correlation_id(value: str) -> Token[str | None]:
    """Make `value` the current correlation ID; returns the token to reset it."""
    return _current.set(value)


@contextmanager
def correlation_scope(value: str | None = None) -> Iterator[str]:
    """Run a block (a background job, a test) under a correlation ID."""
    cid = value if is_valid(value) else new_correlation_id()
    token = _current.set(cid)
    try:
        yield cid
    finally:
        _current.reset(token)


def outgoing_headers() -> dict[str, str]:
    """Headers an outgoing HTTP call must carry to forward the correlation ID."""
    cid = _current.get()
    return {HEADER: cid} if cid else {}


class CorrelationFilter(logging.Filter):
    """Puts `correlation_id` on every record it sees ('-' outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = _current.get() or NO_ID
        return True


def install(app: Flask) -> None:
    """Register the hooks that read/generate the ID and return it on every response."""

    @app.before_request
    def _take_correlation_id() -> None:
        received = request.headers.get(HEADER)
        cid = received if is_valid(received) else new_correlation_id()
        g.correlation_id = cid
        g.correlation_token = _current.set(cid)

    @app.after_request
    def _return_correlation_id(response: Response) -> Response:
        cid = g.get("correlation_id") or _current.get()
        if not cid:  # a request that failed before the before_request hook ran
            cid = new_correlation_id()
            g.correlation_id = cid
        response.headers[HEADER] = cid
        return response

    @app.teardown_request
    def _forget_correlation_id(_exc: BaseException | None) -> None:
        token = g.pop("correlation_token", None)
        if token is not None:
            try:
                _current.reset(token)
            except ValueError:  # reset from another context: just clear it
                _current.set(None)
