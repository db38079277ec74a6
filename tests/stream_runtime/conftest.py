"""Fixtures for the stream runtime tests: a real moto server (``python -m
local_stack.aws_server``) on a free loopback port, shared by the session and always terminated;
and ``Scenario``, one table + stream + function + mapping (+ OnFailure queue) per test with
unique names, plus an in-process ``StreamRuntime`` limited to that test's function and stopped
in teardown even when the test fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_stack.ports import free_port, wait_for_port
from local_stack.stream_runtime import RuntimeOptions, StreamRuntime
from local_stack.stream_runtime.deploy import create_mapping, deploy_function

REPO = Path(__file__).resolve().parents[2]
HANDLERS = "tests.stream_runtime.handlers_for_tests"
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
FAST = RuntimeOptions(
    poll_interval_s=0.05, refresh_s=0.2, shard_refresh_s=2.0,
    error_backoff_base_s=0.05, error_backoff_max_s=0.2,
    throttle_backoff_base_s=0.1, throttle_backoff_max_s=0.3,
    destination_retry_s=0.2, shutdown_grace_s=2.0,
)


def eventually(predicate: Callable[[], Any], timeout_s: float = 15.0, interval_s: float = 0.05,
               what: str = "") -> Any:
    """Poll until `predicate()` is truthy; fail after timeout_s. Returns the truthy value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what or predicate}")
        time.sleep(interval_s)


def holds(predicate: Callable[[], Any], for_s: float, interval_s: float = 0.1,
          what: str = "") -> None:
    """Assert `predicate()` stays truthy for for_s seconds (a negative control)."""
    deadline = time.monotonic() + for_s
    while time.monotonic() < deadline:
        assert predicate(), f"stopped holding: {what or predicate}"
        time.sleep(interval_s)


@pytest.fixture(scope="session", autouse=True)
def local_aws_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in LOCAL_AWS_ENV}
    os.environ.update(LOCAL_AWS_ENV)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def start_aws_server(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_stack.aws_server", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "WARNING"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **LOCAL_AWS_ENV},
    )
    try:
        wait_for_port(port, 30)
    except TimeoutError:
        stop_process(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_aws_server(tmp_path_factory.mktemp("moto") / "aws.log")
    try:
        yield url
    finally:
        stop_process(proc)


class Clients:
    def __init__(self, endpoint: str) -> None:
        def make(service: str) -> Any:
            return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

        self.endpoint = endpoint
        self.ddb = make("dynamodb")
        self.lam = make("lambda")
        self.sqs = make("sqs")
        self.cw = make("cloudwatch")
        self.streams = make("dynamodbstreams")
        self.iam = make("iam")


@pytest.fixture(scope="session")
def clients(moto_endpoint: str) -> Clients:
    return Clients(moto_endpoint)


class Scenario:
    """One test's table, queue, function and mapping, and its runtime."""

    def __init__(self, clients: Clients, tmp: Path) -> None:
        self.c = clients
        self.dir = tmp
        self.id = uuid.uuid4().hex[:8]
        self.table = f"t-{self.id}"
        self.function = f"fn-{self.id}"
        self.mapping_uuid = ""
        self.runtime: StreamRuntime | None = None
        self._item = 0
        self.queue_url = ""
        self.queue_arn = ""
        table = clients.ddb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream_arn = table["TableDescription"]["LatestStreamArn"]

    # -- setup --------------------------------------------------------------------------------
    def queue(self) -> str:
        self.queue_url = self.c.sqs.create_queue(QueueName=f"onfailure-{self.id}")["QueueUrl"]
        self.queue_arn = self.c.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return self.queue_arn

    def deploy(self, handler: str, reserved_concurrency: int | None = None,
               env: dict[str, str] | None = None, timeout_s: int = 30,
               memory_mb: int = 128) -> None:
        deploy_function(self.c.lam, self.function, f"{HANDLERS}.{handler}",
                        {"TEST_DIR": str(self.dir), **(env or {})},
                        reserved_concurrency, timeout_s=timeout_s, memory_mb=memory_mb,
                        iam_client=self.c.iam)

    def map(self, strict: bool = True, **settings: Any) -> dict[str, Any]:
        mapping = create_mapping(self.c.lam, self.function, self.stream_arn, strict=strict,
                                 **settings)
        self.mapping_uuid = mapping["UUID"]
        return mapping

    def update_mapping(self, **settings: Any) -> None:
        self.c.lam.update_event_source_mapping(UUID=self.mapping_uuid, **settings)

    def start(self, options: RuntimeOptions = FAST, **kwargs: Any) -> StreamRuntime:
        self.runtime = StreamRuntime(self.c.endpoint, functions=[self.function],
                                     options=options, metrics_port=0, **kwargs).start()
        return self.runtime

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()

    # -- data -----------------------------------------------------------------------------------
    def put(self, n: int = 1, poison: bool = False, key: str | None = None) -> list[str]:
        keys = []
        for _ in range(n):
            self._item += 1
            pk = key or f"item-{self._item:04d}"
            item: dict[str, Any] = {"pk": {"S": pk}, "n": {"N": str(self._item)}}
            if poison:
                item["poison"] = {"BOOL": True}
            self.c.ddb.put_item(TableName=self.table, Item=item)
            keys.append(pk)
        return keys

    def heal(self) -> None:
        (self.dir / "heal").touch()

    # -- observation ----------------------------------------------------------------------------
    def calls(self) -> list[dict[str, Any]]:
        path = self.dir / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def delivered_keys(self) -> list[str]:
        return [k for call in self.calls() for k in call["keys"]]

    def metrics_text(self) -> str:
        assert self.runtime is not None and self.runtime.metrics_port
        url = f"http://127.0.0.1:{self.runtime.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when absent)."""
        return metric_value(self.metrics_text(), name, function=self.function, **labels)

    def iterator_age(self) -> float:
        assert self.runtime is not None
        ages = [age for (fn, _), age in self.runtime.iterator_ages().items()
                if fn == self.function]
        return max(ages, default=0.0)

    def positioned(self) -> bool:
        """The mapping's shard iterators are held (LATEST position fixed)."""
        assert self.runtime is not None
        consumer = self.runtime.consumers.get(self.mapping_uuid)
        return bool(consumer and consumer.shards
                    and all(s.reader.positioned for s in consumer.shards.values()))

    def on_failure_messages(self) -> list[dict[str, Any]]:
        out = []
        while True:
            msgs = self.c.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return out
            for msg in msgs:
                out.append(json.loads(msg["Body"]))
                self.c.sqs.delete_message(QueueUrl=self.queue_url,
                                          ReceiptHandle=msg["ReceiptHandle"])


def metric_value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


@pytest.fixture
def scenario(clients: Clients, tmp_path: Path) -> Iterator[Scenario]:
    sc = Scenario(clients, tmp_path)
    try:
        yield sc
    finally:
        sc.stop()
