"""Fakes for the chaos tests: an in-process moto server on loopback (reset per test), a fake
storefront (health, admin breakers, metrics), fake replica processes, and a state dir that
points at them the way `gameday up` would; and a `chaos inject` CLI to SIGKILL mid-fault."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO, client

REGION = "us-east-1"
FUNCTION = "shop-inventory"
JAM_ALARM = "shop-inventory-stream-jam"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from local_stack import moto_dynamodb_fixes

    moto_dynamodb_fixes.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class Aws:
    url: str
    function_arn: str = ""
    mapping_uuid: str = ""
    queue_url: str = ""

    def client(self, service: str) -> Any:
        return client(service, self.url)


@pytest.fixture
def aws(moto_url: str) -> Aws:
    """A fresh moto with what the faults act on: the shop-inventory function and its stream
    mapping (bisect + OnFailure queue), and the stream-jam alarm."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    out = Aws(moto_url)
    role = out.client("iam").create_role(
        RoleName="lambda", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    lam = out.client("lambda")
    out.function_arn = lam.create_function(
        FunctionName=FUNCTION, Runtime="python3.11", Role=role, Handler="handler.handler",
        Code={"ZipFile": code.getvalue()})["FunctionArn"]
    table = out.client("dynamodb").create_table(
        TableName="shop-orders", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "OrderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "OrderId", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    sqs = out.client("sqs")
    out.queue_url = sqs.create_queue(QueueName="shop-stream-on-failure")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=out.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    out.mapping_uuid = lam.create_event_source_mapping(
        FunctionName=FUNCTION, EventSourceArn=table["LatestStreamArn"],
        StartingPosition="TRIM_HORIZON", BatchSize=10, BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )["UUID"]
    out.client("cloudwatch").put_metric_alarm(
        AlarmName=JAM_ALARM, Namespace="AWS/Lambda", MetricName="IteratorAge",
        Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}], Statistic="Maximum",
        Period=10, EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=3000.0,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="breaching",
    )
    return out


class FakeShop:
    """A tiny storefront: /health, /v1/admin/breakers, /metrics; everything configurable."""

    def __init__(self) -> None:
        self.breakers: dict[str, str] = {"payments": "closed", "reviews": "closed"}
        self.metrics_text = ("# TYPE shop_orders_total counter\n"
                             "shop_orders_total{status=\"placed\"} 3\n")
        self.health = 200
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/health":
                    self._send(shop.health, {"ok": True})
                elif self.path == "/v1/admin/breakers":
                    self._send(200, {"breakers": {k: {"state": v, "enabled": True}
                                                  for k, v in shop.breakers.items()}})
                elif self.path == "/metrics":
                    body = shop.metrics_text.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_shop() -> Iterator[FakeShop]:
    shop = FakeShop()
    try:
        yield shop
    finally:
        shop.close()


@dataclass
class FakeStack:
    state_dir: Path
    shop: FakeShop
    aws: Aws
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def write_state(self) -> None:
        services = {"payments": {"replicas": [], "restart": True}}
        for i, child in enumerate(self.children, start=1):
            services["payments"]["replicas"].append({
                "name": f"payments-{i}", "index": i, "pid": child.pid, "port": None,
                "alive": child.poll() is None})
        state = {
            "version": 1, "supervisor_pid": os.getpid(), "region": REGION,
            "state_dir": str(self.state_dir), "table_prefix": "shop-",
            "urls": {"storefront": self.shop.url, "payments": self.shop.url,
                     "reviews": self.shop.url, "aws": self.aws.url},
            "tokens": {"admin": "admin-token", "service": "service-token"},
            "services": services, "ready_after_s": 1.0,
        }
        (self.state_dir / "state.json").write_text(json.dumps(state))


@pytest.fixture
def fake_stack(tmp_path: Path, fake_shop: FakeShop, aws: Aws) -> Iterator[FakeStack]:
    """A state dir whose payments "replicas" are sleeping children of this test process."""
    state_dir = tmp_path / "state"
    (state_dir / "holds").mkdir(parents=True)
    stack = FakeStack(state_dir, fake_shop, aws)
    for _ in range(2):
        stack.children.append(subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)"]))
    stack.write_state()
    try:
        yield stack
    finally:
        for child in stack.children:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=10)


def spawn_inject(state_dir: Path, *argv: str) -> subprocess.Popen[str]:
    """`python -m chaos inject ARGV` in its own session, its output on a pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "chaos", "inject", *argv, "--state-dir", str(state_dir)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def sigkill_after_injected(proc: subprocess.Popen[str]) -> str:
    """Wait (up to 30 s) for the CLI's "injected ..." line, then SIGKILL its process group;
    fail the test when the line never comes. The CLI is killed and reaped whatever happens."""
    assert proc.stdout is not None
    output: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("injected "):
                return line
            if not line and proc.poll() is not None:
                break
            output.append(line)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    pytest.fail(f"inject did not start (exit {proc.returncode}): "
                f"{''.join(output)}{proc.stdout.read()}")
