"""How a dependency's failure is answered.

- A 4xx answer from a dependency means the caller sent something the dependency refused (a bug
  or a state conflict), not that the dependency is down, so it does not count against the
  breaker and is answered as 502 `dependency_rejected` (`DependencyRejected`).
- DynamoDB failing (timeouts, connection errors, throttling, its own 5xx) is answered 503 with
  `Retry-After` by `install`'s error handlers, never 500. Two codes, so that a failure never
  hides a write that may have happened:
  * `dependency_unavailable`: nothing was changed — a read, or a write DynamoDB refused or never
    received (connection refused, connect timeout, throttled);
  * `outcome_unknown`: a write was sent and no answer came back (read timeout, connection
    dropped, DynamoDB's own 5xx), so it may or may not have been applied: read the resource
    before writing again.
  Which call failed is known from `track_calls`, a botocore hook on the services' DynamoDB
  clients that notes each operation in the request's `flask.g`.
  Other AWS errors (validation, missing table) are bugs or misconfiguration and stay 500.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)
from flask import Flask, Response, g, has_app_context

from reference_app.errors import ApiError, error_response

log = logging.getLogger(__name__)

AWS_RETRY_AFTER_S = 1
# DynamoDB said no before doing anything: safe to retry as is
REFUSED_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "LimitExceededException", "TransactionInProgressException",
})
# DynamoDB failed on its side: a write may or may not have been applied
FAILED_CODES = frozenset({"InternalServerError", "ServiceUnavailable", "InternalFailure"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                              "BatchWriteItem", "ExecuteStatement", "ExecuteTransaction"})
LAST_CALL = "shop_aws_last_call"


def _note_call(model: Any = None, **_: Any) -> None:
    if has_app_context() and model is not None:
        setattr(g, LAST_CALL, model.name)


def track_calls(client: Any) -> None:
    """Note each operation of `client` in `flask.g` (inside a request; a no-op elsewhere)."""
    client.meta.events.register("before-call.dynamodb", _note_call)


def _remote_error(response: requests.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return "", response.text[:200]


class DependencyRejected(ApiError):
    """502: the dependency answered 4xx; `remote_status`/`remote_code` say what it said."""

    def __init__(self, dependency: str, response: requests.Response) -> None:
        code, message = _remote_error(response)
        super().__init__(502, "dependency_rejected",
                         f"{dependency} refused the request ({response.status_code} "
                         f"{code or 'error'}: {message})")
        self.dependency = dependency
        self.remote_status = response.status_code
        self.remote_code = code


def aws_failure(exc: Exception, write: bool) -> ApiError | None:
    """The 503 for an AWS SDK failure that means the service is unavailable (None for errors
    that are the caller's bug); `write` says whether the failed call could have changed
    anything."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in REFUSED_CODES:
            unknown = False
        elif code in FAILED_CODES or status >= 500:
            unknown = write
        else:
            return None
        what = f"DynamoDB answered {code or status}"
    elif isinstance(exc, BotoCoreError):
        unknown = write and not isinstance(exc, ConnectTimeoutError | EndpointConnectionError)
        what = f"DynamoDB did not answer ({type(exc).__name__})"
    else:
        return None
    headers = {"Retry-After": str(AWS_RETRY_AFTER_S)}
    if unknown:
        return ApiError(503, "outcome_unknown",
                        f"{what}; the change may or may not have been applied: read it before "
                        "trying again", headers=headers)
    return ApiError(503, "dependency_unavailable", f"{what}; nothing was changed, try again",
                    headers=headers)


def install(app: Flask) -> None:
    """Answer DynamoDB failures raised by a view as 503 (see the module docstring)."""

    @app.errorhandler(BotoCoreError)
    @app.errorhandler(ClientError)
    def _aws_error(exc: Exception) -> Response:
        answer = aws_failure(exc, write=g.get(LAST_CALL) in WRITE_OPERATIONS)
        if answer is None:
            log.exception("unhandled AWS error %s", type(exc).__name__)
            return error_response(ApiError(500, "internal_error", "internal server error"))
        log.warning("answering %s %s: %s", answer.status, answer.code, exc)
        return error_response(answer)
