"""boto3 clients for the shop: the plain clients of `reference_app.aws_session`, with the
dynamodb-throttle fault hook on every DynamoDB client (reference_app.fault_hooks)."""

from __future__ import annotations

from typing import Any

from reference_app.aws_session import botocore_config, plain_client, resource
from reference_app.config import Settings
from reference_app.dependency_errors import track_calls
from reference_app.fault_hooks import instrument_dynamodb

__all__ = ["botocore_config", "client", "dynamodb_client", "resource"]


def client(service: str, settings: Settings) -> Any:
    """A boto3 low-level client for `service` (thread-safe; share it within a process).

    DynamoDB clients carry the dynamodb-throttle fault hook and note their calls for the
    error handlers (reference_app.dependency_errors)."""
    made = plain_client(service, settings)
    if service == "dynamodb":
        instrument_dynamodb(made, settings)
        track_calls(made)  # which call failed: 503 dependency_unavailable or outcome_unknown
    return made


def dynamodb_client(settings: Settings) -> Any:
    """The DynamoDB client every service uses."""
    return client("dynamodb", settings)
