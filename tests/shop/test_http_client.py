"""The service-to-service client: token, correlation forwarding, timeouts and 5xx as
DependencyError, 4xx returned."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, request

from reference_app.breaker import DependencyError
from reference_app.config import Settings
from reference_app.correlation import correlation_scope
from reference_app.http_client import ServiceClient
from reference_app.tokens import verify_token
from tests.shop.conftest import LOOPBACK, closed_port_url, serving

SECRET = "client-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    app = Flask("echo")

    @app.route("/echo")
    def echo() -> object:
        return jsonify(cid=request.headers.get("X-Correlation-ID"),
                       auth=request.headers.get("Authorization"))

    @app.route("/status/<int:code>")
    def status(code: int) -> object:
        return jsonify(code=code), code

    @app.route("/slow")
    def slow() -> object:
        time.sleep(1.0)
        return jsonify(ok=True)

    with serving(app) as url:
        yield url


def _client(url: str, timeout_s: float = 0.3) -> ServiceClient:
    return ServiceClient("dep", url, Settings(service_name="storefront", replica_id="2",
                                              token_secret=SECRET,
                                              dependency_timeout_s=timeout_s))


def test_forwards_correlation_id_and_service_token(echo_url: str) -> None:
    client = _client(echo_url)
    with correlation_scope("corr-7"):
        body = client.request("GET", "/echo").json()
    assert body["cid"] == "corr-7"
    claims = verify_token(body["auth"].removeprefix("Bearer "), secret=SECRET)
    assert (claims.subject, claims.role) == ("storefront-2", "service")
    assert client.request("GET", "/echo").json()["cid"] is None  # none outside a request


def test_4xx_is_returned_5xx_raises(echo_url: str) -> None:
    client = _client(echo_url)
    assert client.request("GET", "/status/409").status_code == 409
    with pytest.raises(DependencyError) as caught:
        client.request("GET", "/status/502")
    assert (caught.value.kind, caught.value.status) == ("http_5xx", 502)


def test_timeouts_and_refused_connections(echo_url: str) -> None:
    with pytest.raises(DependencyError) as slow:
        _client(echo_url, timeout_s=0.2).request("GET", "/slow")
    assert slow.value.kind == "timeout"
    with pytest.raises(DependencyError) as refused:
        _client(closed_port_url()).request("GET", "/echo")
    assert refused.value.kind == "connect"


def test_socket_that_never_answers_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(8)  # accepts connections (backlog) but never reads or answers
        url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
        t0 = time.perf_counter()
        with pytest.raises(DependencyError) as caught:
            _client(url, timeout_s=0.3).request("POST", "/v1/x", json={"a": 1})
        elapsed = time.perf_counter() - t0
    assert caught.value.kind == "timeout"
    assert 0.25 < elapsed < 2.0
    assert threading.active_count() >= 1
