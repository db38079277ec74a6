"""The compose stack's entry points (local_stack/compose.py) run the shop: started on loopback
with free ports as docker-compose.yml wires them (no Docker here): the emulator and the stream
runtime behind ambassadors, `deploy` (twice: idempotent), `serve` replicas, the transaction
manager and the chores; then a checkout completes through the saga, and the runtime's metrics
are served through the ambassador."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_stack.compose import Forward, compose_state
from local_stack.ports import free_port
from local_stack.redis_server import find_redis_binary, redis_argv
from tests.conftest import REPO, wait_until
from tests.dashboards.helpers import Children

pytestmark = pytest.mark.integration

SECRET = "entrypoint-test-token-secret-0123456789"


@pytest.fixture()
def children(tmp_path: Path) -> Iterator[Children]:
    running = Children(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def compose(*args: str) -> list[str]:
    return [sys.executable, "-m", "local_stack.compose", *args]


def test_forward_parsing() -> None:
    assert Forward.parse("4566=aws:4566") == Forward("127.0.0.1", 4566, "aws", 4566)
    assert str(Forward.parse("0.0.0.0:9101=127.0.0.1:9100")) == \
        "0.0.0.0:9101 -> 127.0.0.1:9100"
    for bad in ("4566", "x:y=aws:2", "1=aws", "1=aws:70000"):
        with pytest.raises(ValueError, match="--tcp"):
            Forward.parse(bad)


def test_state_file_for_the_compose_stack(tmp_path: Path) -> None:
    from chaos.context import ChaosContext
    from local_stack.state import write_state
    from reference_app.tokens import verify_token

    write_state(compose_state("proj", token_secret=SECRET, state_dir=tmp_path), tmp_path)
    ctx = ChaosContext.load(tmp_path)  # every URL passes chaos's loopback rule
    assert ctx.url("storefront") == "http://127.0.0.1:8080"
    assert ctx.aws_endpoint == "http://127.0.0.1:4566"
    assert ctx.state["compose"]["project"] == "proj"
    claims = verify_token(ctx.token("admin"), secret=SECRET)
    assert claims.role == "admin"


def test_the_entry_points_run_the_shop(children: Children, tmp_path: Path) -> None:
    port = {name: free_port() for name in (
        "redis", "aws", "moto", "payments", "reviews", "storefront", "runtime_aws",
        "runtime_metrics", "runtime_loopback", "xray")}
    env = {**os.environ,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port['aws']}",
           "SHOP_TABLE_PREFIX": "shop-",
           "SHOP_REDIS_URL": f"redis://127.0.0.1:{port['redis']}/0",
           "SHOP_PAYMENTS_URL": f"http://127.0.0.1:{port['payments']}",
           "SHOP_REVIEWS_URL": f"http://127.0.0.1:{port['reviews']}",
           "SHOP_TOKEN_SECRET": SECRET, "PYTHONUNBUFFERED": "1",
           "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
           "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port['xray']}"}
    children.start("redis", redis_argv(find_redis_binary(), port["redis"]), env)
    children.start("aws", compose(
        "ambassador", "--tcp", f"127.0.0.1:{port['aws']}=127.0.0.1:{port['moto']}", "--",
        sys.executable, "-m", "local_stack.aws_server", "--host", "127.0.0.1",
        "--port", str(port["moto"])), env)

    def healthy(url: str) -> bool:
        children.alive()
        return subprocess.run(compose("health", url, "--timeout", "1"),
                              capture_output=True, timeout=30).returncode == 0

    wait_until(lambda: healthy(f"http://127.0.0.1:{port['aws']}/moto-api/"), 60, 0.5,
               "the emulator behind its ambassador")

    first = subprocess.run(compose("deploy", "--products", "30"), env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr[-3000:]
    again = subprocess.run(compose("deploy", "--products", "30"), env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "catalog already seeded" in again.stderr

    for service in ("payments", "reviews", "storefront"):
        children.start(service, compose(
            "serve", "--app", f"reference_app.{service}.app:create_app",
            "--host", "127.0.0.1", "--port", str(port[service])),
            {**env, "SHOP_SERVICE": service})
    children.start("stream-runtime", compose(
        "ambassador", "--tcp", f"127.0.0.1:{port['runtime_aws']}=127.0.0.1:{port['aws']}",
        "--tcp", f"127.0.0.1:{port['runtime_metrics']}=127.0.0.1:{port['runtime_loopback']}",
        "--", sys.executable, "-m", "local_stack.stream_runtime",
        "--metrics-port", str(port["runtime_loopback"]),
        "--checkpoint-file", str(tmp_path / "checkpoints.json")),
        {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port['runtime_aws']}",
         "STREAM_RUNTIME_HANDLER_METRICS_DIR": str(tmp_path / "handler-metrics")})
    children.start("transaction-manager", compose("transaction-manager"),
                   {**env, "SHOP_SERVICE": "transaction-manager"})
    children.start("chores", compose("chores", "--heartbeat-interval", "2",
                                     "--state-dir", str(tmp_path / "chores")), env)
    for service in ("payments", "reviews", "storefront"):
        wait_until(lambda s=service: healthy(f"http://127.0.0.1:{port[s]}/health"), 60, 0.5,
                   f"{service} to answer /health")

    shop = f"http://127.0.0.1:{port['storefront']}"
    shopper = requests.post(f"{shop}/v1/shoppers", json={}, timeout=10).json()
    auth = {"Authorization": f"Bearer {shopper['token']}"}
    cart = f"{shop}/v1/carts/{shopper['shopper_id']}"
    assert requests.post(f"{cart}/items", json={"sku": "SKU-00001", "qty": 1}, headers=auth,
                         timeout=10).status_code == 200
    checkout = requests.post(f"{cart}/checkout", headers=auth, timeout=10)
    assert checkout.status_code == 202, checkout.text
    order_url = f"{shop}/v1/orders/{checkout.json()['order_id']}"

    def completed() -> bool:
        children.alive()
        return requests.get(order_url, headers=auth, timeout=10).json()["status"] == "COMPLETED"

    wait_until(completed, 90, 0.5, "the saga (stream runtime behind its ambassador) to "
                                   "complete the order")
    metrics = requests.get(f"http://127.0.0.1:{port['runtime_metrics']}/metrics",
                           timeout=10).text
    assert 'stream_runtime_records_total{function="shop-inventory",outcome="processed"}' \
        in metrics
    assert "shop_orders_total" in metrics  # the handlers' counters, through the runtime
    replica = requests.get(f"http://127.0.0.1:{port['storefront']}/health", timeout=10).json()
    assert replica["replica"]  # serve names the replica after the host when unset
    assert "chores running" in children.log("chores")
    children.alive()

    # Locust as compose runs it: a master with the exporter, a worker, both given the host
    master_port, exporter_port = free_port(), free_port()
    files = "loadtests/locustfile.py,loadtests/prometheus_exporter.py"
    common = ["-f", files, "--host", shop, "--allow-remote"]
    env_locust = {k: v for k, v in env.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
    children.start("locust-master", [
        sys.executable, "-m", "locust", *common, "--master", "--master-bind-host",
        "127.0.0.1", "--master-bind-port", str(master_port), "--headless",
        "--expect-workers", "1", "-u", "2", "-r", "2", "-t", "20s", "--only-summary",
        "--prometheus-host", "127.0.0.1", "--prometheus-port", str(exporter_port)], env_locust)
    children.start("locust-worker", [
        sys.executable, "-m", "locust", *common, "--worker", "--master-host", "127.0.0.1",
        "--master-port", str(master_port)], env_locust)

    def exported(text: str) -> bool:
        children.alive()
        try:
            got = requests.get(f"http://127.0.0.1:{exporter_port}/metrics", timeout=5).text
        except requests.RequestException:
            return False
        return text in got

    wait_until(lambda: exported("locust_workers 1.0"), 60, 0.5, "the worker to connect")
    wait_until(lambda: exported('locust_requests_total{method="GET",name="/v1/products/{sku}"}'),
               60, 0.5, "the worker's requests in the master's exporter")

