"""Helpers shared by the alarm tests: clients and environments for the test's moto server."""

from __future__ import annotations

import os
from typing import Any

import boto3

LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for the local endpoint with fake credentials."""
    return boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def subprocess_env(endpoint_url: str) -> dict[str, str]:
    """Environment for a child process that must talk to the test's moto server only."""
    return {**os.environ, **LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": endpoint_url}
