"""Fixtures of the alarm tests: one moto server on loopback for the module, reset per test,
with or without the CloudWatch history patch of local_stack.alarm_evaluator.moto_history."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.alarm_evaluator import moto_history
from tests.alarms.moto_helpers import LOCAL_AWS_ENV
from tests.conftest import client


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server (ThreadedMotoServer, in-process) on 127.0.0.1, stopped after the module."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture()
def endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module's moto server, emptied, with fake credentials in the environment."""
    for key, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    return moto_endpoint


@pytest.fixture()
def history_patch() -> Iterator[None]:
    """moto_history installed for the test (the moto server runs in this process)."""
    moto_history.install()
    try:
        yield
    finally:
        moto_history.uninstall()


@pytest.fixture()
def cloudwatch(endpoint: str) -> Any:
    return client("cloudwatch", endpoint)

