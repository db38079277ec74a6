"""Plain boto3 clients: AWS_ENDPOINT_URL, the region, timeouts and local dummy credentials.

Clients (not resources) are used by the services because low-level clients are thread-safe; the
seeder also uses a resource for its `batch_writer`. Each factory builds its own boto3 Session, as
the default session is not safe to share between threads. `reference_app.aws` adds the fault
hooks on top; this module knows nothing of them (the fault flag reader builds its SSM client
here).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

from reference_app.config import Settings
from reference_app.loopback import is_loopback_url

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 2.0
MAX_POOL_CONNECTIONS = 50


def botocore_config(settings: Settings) -> Config:
    """Short timeouts, standard retry mode and a connection pool big enough for a thread pool."""
    return Config(
        region_name=settings.aws_region,
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


def _session_kwargs(settings: Settings) -> dict[str, Any]:
    """A local endpoint (moto) accepts any credentials: supply dummy ones when none are set, so
    a bare `AWS_ENDPOINT_URL=http://127.0.0.1:...` works. Never done for a non-loopback endpoint.
    """
    kwargs: dict[str, Any] = {"region_name": settings.aws_region}
    if is_loopback_url(settings.aws_endpoint_url) and not os.environ.get(
        "AWS_ACCESS_KEY_ID"
    ):
        kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    return kwargs


def plain_client(service: str, settings: Settings, read_timeout_s: float | None = None) -> Any:
    """A boto3 low-level client for `service`, without any hook (`read_timeout_s`: a longer
    read timeout, for a batch reader such as the audit's whole-table scans)."""
    session = boto3.session.Session(**_session_kwargs(settings))
    config = botocore_config(settings)
    if read_timeout_s is not None:
        config = config.merge(Config(read_timeout=read_timeout_s))
    return session.client(service, endpoint_url=settings.aws_endpoint_url, config=config)


def resource(service: str, settings: Settings) -> Any:
    """A boto3 resource for `service` (not thread-safe: one per thread)."""
    session = boto3.session.Session(**_session_kwargs(settings))
    return session.resource(
        service, endpoint_url=settings.aws_endpoint_url, config=botocore_config(settings)
    )
