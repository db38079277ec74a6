"""Where injected faults take effect inside the shop (the target side of `gameday chaos`).

The flags themselves (SSM parameters with an expiry enforced by the reader) are parsed by
`reference_app.faults`; this module plugs them into the three places a fault can act:

- HTTP services: a `before_request` hook answers the fault's status (service-error) or sleeps
  (service-latency) before the real view runs; /health, /metrics and /openapi.json are spared so
  the supervisor and Prometheus still see the replica.
- DynamoDB clients: a botocore hook raises ProvisionedThroughputExceededException at the rate
  (dynamodb-throttle), for the service's own calls.
- Stream handlers: before each record, raise (lambda-error) or sleep (lambda-latency),
  optionally only for records whose NewImage matches.

`SHOP_FAULTS_ENABLED=false` switches the reading off (no SSM calls at all).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from reference_app.aws_session import plain_client
from reference_app.config import Settings
from reference_app.faults import FaultFlags, FaultInjected, dynamodb_throttle_hook

log = logging.getLogger(__name__)

SPARED_PATHS = frozenset({"/health", "/metrics", "/openapi.json"})
_flags: FaultFlags | None = None
_lock = threading.Lock()


def faults_enabled() -> bool:
    return os.environ.get("SHOP_FAULTS_ENABLED", "true").strip().lower() not in {
        "0", "false", "no", "off"
    }


def flags(settings: Settings) -> FaultFlags:
    """This process's flag reader (one SSM read per second at most, only when asked)."""
    global _flags
    if _flags is None:
        with _lock:
            if _flags is None:
                # re-read off the request path; a request never waits for SSM
                _flags = FaultFlags(lambda: plain_client("ssm", settings), background=True)
    return _flags


def instrument_dynamodb(client: Any, settings: Settings) -> Any:
    """Register the dynamodb-throttle hook on a DynamoDB client; returns the client."""
    if faults_enabled():
        hook = dynamodb_throttle_hook(flags(settings), f"dynamodb/{settings.service_name}")
        client.meta.events.register("before-parameter-build.dynamodb", hook)
    return client


def install_service_faults(app: Any, service: str, settings: Settings) -> None:
    """service-error / service-latency for every request of a Flask app."""
    if not faults_enabled():
        return
    from flask import request

    from reference_app.errors import ApiError, error_response

    target = f"service/{service}"
    flags(settings).warm()  # the SSM client and first read before the first request

    @app.before_request
    def _inject() -> Any:
        if request.path in SPARED_PATHS:
            return None
        try:
            flags(settings).inject_before(target)
        except FaultInjected as exc:
            status = int(getattr(exc.spec, "status", 503) or 503)
            return error_response(ApiError(status, "fault_injected", str(exc)))
        return None


def inject_lambda_fault(function_name: str, settings: Settings, raw_record: Any) -> None:
    """lambda-error / lambda-latency before one stream record is processed."""
    if faults_enabled():
        flags(settings).inject_before(f"lambda/{function_name}", raw_record)
