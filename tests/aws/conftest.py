"""A moto server on a free loopback port for the aws target's tests (the project's own
local_stack.aws_server, with its CloudFormation fixes), and every AWS client pointed at it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.aws_server import AwsServer


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = AwsServer("127.0.0.1", 0)
    host, port = server.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS_ENDPOINT_URL and dummy credentials for moto; moto's 'not supported' warnings off."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    warnings.filterwarnings("ignore", message="Tried to parse AWS::")
    return moto_url


@pytest.fixture
def recorded_actions(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """IAM actions of every boto3 call made through a boto3 Session's clients."""
    import boto3

    from deploy.aws.policy import iam_action

    calls: set[str] = set()
    original = boto3.Session.client

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)

        def record(model: Any, **_: Any) -> None:
            calls.add(iam_action(model.service_model.service_name, model.name))

        made.meta.events.register("before-call", record)
        return made

    monkeypatch.setattr(boto3.Session, "client", client)
    return calls
