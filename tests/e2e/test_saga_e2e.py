"""The checkout saga end to end on the real local stack: orders placed over HTTP all reach a
terminal state through the stream consumers, one trace spans storefront, payments, DynamoDB and
the handlers, and a full redelivery of the streams (at-least-once) leaves the audit clean — but
not when the inventory transaction lacks its idempotency row (negative control)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, RunningStack, start_stack, wait_until

pytestmark = pytest.mark.integration
TERMINAL = {"COMPLETED", "CANCELLED"}


def place_orders(stack: RunningStack, count: int) -> list[tuple[str, dict[str, str]]]:
    base = stack.urls["storefront"]
    orders = []
    for n in range(count):
        shopper = requests.post(f"{base}/v1/shoppers", json={}, timeout=10).json()
        headers = {"Authorization": f"Bearer {shopper['token']}"}
        cart = f"{base}/v1/carts/{shopper['shopper_id']}"
        for sku in (f"SKU-{n % 10 + 1:05d}", f"SKU-{n % 7 + 11:05d}"):
            r = requests.post(f"{cart}/items", json={"sku": sku, "qty": 2}, headers=headers,
                              timeout=10)
            assert r.status_code == 200, r.text
        r = requests.post(f"{cart}/checkout", headers=headers, timeout=10)
        assert r.status_code == 202, r.text
        orders.append((r.json()["order_id"], headers))
    return orders


def statuses(stack: RunningStack, orders: list[tuple[str, dict[str, str]]]) -> list[str]:
    base = stack.urls["storefront"]
    return [requests.get(f"{base}/v1/orders/{oid}", headers=h, timeout=10).json()["status"]
            for oid, h in orders]


def audit(stack: RunningStack) -> tuple[int, dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "gameday", "audit", "--state-dir", str(stack.state_dir),
         "--grace-s", "0", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    return out.returncode, json.loads(out.stdout)


class NotServingMetrics(Exception):
    """The stream runtime's metrics port answered, but not with its metrics."""


def runtime_sample(stack: RunningStack, name: str, **labels: str) -> float:
    reply = requests.get(stack.urls["stream_runtime_metrics"], timeout=5)
    if reply.status_code != 200 or not reply.headers.get("Content-Type", "").startswith(
            "text/plain"):
        # e.g. while the runtime is replaced, whatever else holds the port for a moment
        raise NotServingMetrics(f"{reply.status_code} {reply.headers.get('Content-Type')}: "
                                f"{reply.text[:200]!r}")
    text = reply.text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v
                                              for k, v in labels.items()))


def processed_records(stack: RunningStack, function: str) -> float:
    try:
        return runtime_sample(stack, "stream_runtime_records_total", function=function,
                              outcome="processed")
    except (requests.ConnectionError, NotServingMetrics):
        return -1.0  # the runtime is down (being replaced)


def redeliver_everything(stack: RunningStack) -> None:
    """At-least-once on purpose: the runtime dies, loses its checkpoints and starts again from
    TRIM_HORIZON, so every record of every stream is delivered a second time."""
    holds = stack.state_dir / "holds"
    (holds / "stream-runtime.json").write_text(json.dumps({"until": time.time() + 2.0}))
    replica = stack.reload()["services"]["stream-runtime"]["replicas"][0]
    os.kill(replica["pid"], signal.SIGKILL)
    wait_until(lambda: not stack.reload()["services"]["stream-runtime"]["replicas"][0]["alive"],
               10, what="the runtime to be seen dead")
    Path(stack.state_dir / "stream-checkpoints.json").unlink(missing_ok=True)


def run_saga(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[RunningStack, list]:
    stack = start_stack(tmp_path, "--replace-delay", "0.3", env=env)
    try:
        orders = place_orders(stack, 8)
        wait_until(lambda: all(s in TERMINAL for s in statuses(stack, orders)), 60,
                   what="every order to reach a terminal state")
    except BaseException:
        stack.stop()  # a failed start leaks no stack into the tests that follow
        raise
    return stack, orders


def test_orders_complete_trace_and_survive_redelivery(tmp_path: Path) -> None:
    stack, orders = run_saga(tmp_path)
    try:
        assert set(statuses(stack, orders)) == {"COMPLETED"}
        # the handlers' own counters reach Prometheus through the runtime's /metrics
        assert runtime_sample(stack, "shop_orders_total", status="completed") >= len(orders)
        code, report = audit(stack)
        assert code == 0 and report["ok"], report

        # one trace: storefront, payments, DynamoDB and the stream handlers
        out = subprocess.run(
            [sys.executable, "-m", "gameday", "traces", "--state-dir", str(stack.state_dir),
             orders[0][0], "--json", "--wait", "10"],
            cwd=REPO, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        docs = json.loads(out.stdout)
        names = {d["name"] for d in docs}
        assert {"shop-storefront", "shop-payments"} <= names, names
        assert names & {"shop-inventory", "shop-payment", "shop-order-completion"}, names
        calls = {s.get("namespace") + ":" + s["name"] for d in docs
                 for s in d.get("subsegments", [])}
        assert "aws:dynamodb" in calls, calls

        before = processed_records(stack, "shop-inventory")
        redeliver_everything(stack)
        wait_until(lambda: processed_records(stack, "shop-inventory") >= before, 60,
                   what="the restarted runtime to redeliver every inventory record")
        time.sleep(2)  # let the follow-on records of the redelivery settle
        code, report = audit(stack)
        assert code == 0 and report["ok"], report
    finally:
        stack.stop()


def test_without_idempotency_row_redelivery_breaks_the_audit(tmp_path: Path) -> None:
    """Negative control: the same redelivery with the inventory's idempotency row switched off
    double-counts stock, and the audit must say so."""
    stack, _orders = run_saga(tmp_path, env={"INVENTORY_IDEMPOTENCY": "off"})
    try:
        code, report = audit(stack)
        assert code == 0, report  # delivered once, nothing is wrong yet
        before = processed_records(stack, "shop-inventory")
        redeliver_everything(stack)
        wait_until(lambda: processed_records(stack, "shop-inventory") >= before, 60,
                   what="the restarted runtime to redeliver every inventory record")
        time.sleep(2)
        code, report = audit(stack)
        assert code == 1 and not report["ok"]
        assert "stock_not_conserved" in report["counts"]["problems_by_check"], report
    finally:
        stack.stop()
