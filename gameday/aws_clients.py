"""boto3 clients for the local stack's AWS endpoint, built from the state file."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3

from local_stack.ports import check_loopback


def local_client(service: str, state: dict[str, Any]) -> Any:
    """A client for the stack's endpoint; refuses an endpoint outside loopback."""
    url = state["urls"]["aws"]
    check_loopback(urlsplit(url).hostname)
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=state.get("region", "us-east-1"),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
