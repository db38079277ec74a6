"""Helpers shared by the alarm tests: the environment of a child process that must talk to the
test's moto server (clients for it: tests.conftest.client)."""

from __future__ import annotations

import os

LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def subprocess_env(endpoint_url: str) -> dict[str, str]:
    """Environment for a child process that must talk to the test's moto server only."""
    return {**os.environ, **LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": endpoint_url}
