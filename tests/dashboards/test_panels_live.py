"""Every dashboard query returns data from a real Prometheus scraping a real local run.

One test, about two minutes: a stack (`gameday up`, with its saga exporter), Locust headless with
its Prometheus exporter, and Prometheus (the apt binary) with the shipped template configuration
(dashboards/prometheus/prometheus.yml, scrape and evaluation every second, the shipped alert rules)
on a free loopback port with its TSDB in a temp dir. Then what the panels need to see: a payments
outage (`service-error`: the breaker opens, rejects, sheds 503s, its alert goes pending; waited for
before the next faults), failing inventory invocations (`lambda-error`: errors, IteratorAge, the
jam alarm and alert) with the retries cut to one (`esm-update MaximumRetryAttempts=1`: records go
to OnFailure, the transaction manager cancels their orders). Every query of every panel and every
Prometheus annotation, with Grafana's variables substituted ("All"), must return at least one
sample over the run's window (`/api/v1/query_range`, as Grafana asks). Whatever is still empty is
named in the failure. Everything started is stopped, whatever happens.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.ports import free_port
from local_stack.prometheus_targets import targets_from_state, write_targets
from tests.conftest import REPO, RunningStack, start_stack, wait_until
from tests.dashboards.helpers import (
    Children,
    Query,
    load_dashboards,
    queries,
    substitute,
    variable_values,
)

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")
TEMPLATE = REPO / "dashboards" / "prometheus"
DATA_TIMEOUT_S = 120.0
BREAKER_WAIT_S = 45.0  # the payments outage lasts this long at most


def chaos(stack: RunningStack, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "chaos", *args, "--state-dir",
                           str(stack.state_dir)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"chaos {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def prometheus_config(tmp: Path, targets: dict[str, list[dict[str, Any]]]) -> Path:
    """The shipped template and alert rules, every second, targets from the running stack."""
    conf_dir = tmp / "prometheus"
    conf_dir.mkdir()
    text = (TEMPLATE / "prometheus.yml").read_text()
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        text = text.replace(f"  {key}: ", f"  {key}: 1s  # was ", 1)
    (conf_dir / "prometheus.yml").write_text(text)
    shutil.copy(TEMPLATE / "alerts.yml", conf_dir / "alerts.yml")
    write_targets(targets, conf_dir / "targets")
    return conf_dir / "prometheus.yml"


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one series with one real (not NaN) sample."""
    return any(not math.isnan(float(value)) for series in result
               for _t, value in series.get("values", []))


class Prom:
    def __init__(self, url: str) -> None:
        self.url = url

    def range_query(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        resp = requests.get(f"{self.url}/api/v1/query_range", timeout=10, params={
            "query": expr, "start": start, "end": end, "step": "1s"})
        body = resp.json()
        assert body.get("status") == "success", f"{expr}: {body}"
        return list(body["data"]["result"])

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if PROMETHEUS is None:
        pytest.skip("the prometheus binary is not installed (apt-get install prometheus)")
    stack = start_stack(tmp_path)
    procs = Children(tmp_path)
    try:
        yield {"stack": stack, "procs": procs, "tmp": tmp_path}
    finally:
        procs.stop()
        subprocess.run([sys.executable, "-m", "chaos", "cleanup", "--state-dir",
                        str(stack.state_dir)], cwd=REPO, capture_output=True, timeout=60)
        stack.stop()


def test_every_panel_query_returns_data(live: dict[str, Any]) -> None:
    stack: RunningStack = live["stack"]
    procs: Children = live["procs"]
    tmp: Path = live["tmp"]
    t0 = time.monotonic()

    locust_port, prom_port = free_port(), free_port()  # the saga exporter is the stack's own
    env = {k: v for k, v in os.environ.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
    procs.start("locust", [
        sys.executable, "-m", "locust",
        "-f", "loadtests/locustfile.py,loadtests/prometheus_exporter.py",
        "--headless", "-u", "8", "-r", "8", "-t", "300s", "--only-summary",
        "--state-dir", str(stack.state_dir), "--contention-users", "2",
        "--think-time", "0.2:0.8", "--shed-is-failure", "--seed", "8",
        "--prometheus-port", str(locust_port)], env=env)
    targets = targets_from_state(stack.reload(), {"locust": f"127.0.0.1:{locust_port}"})
    assert targets["saga"], "gameday up runs the saga exporter and names it in the state file"
    config = prometheus_config(tmp, targets)
    procs.start("prometheus", [
        PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=1h",
        "--log.level=warn"])
    prom = Prom(f"http://127.0.0.1:{prom_port}")
    wait_until(prom.ready, 60, 0.5, "Prometheus to be ready")
    start = time.time()

    def scraping_everything() -> bool:
        resp = requests.get(f"{prom.url}/api/v1/targets", timeout=5).json()
        active = resp["data"]["activeTargets"]
        return len(active) >= sum(len(groups) for groups in targets.values()) and all(
            t["health"] == "up" for t in active)

    wait_until(scraping_everything, 60, 0.5, "every target to be scraped (up)")
    wait_until(lambda: has_data(prom.range_query(
        'shop_orders_total{status="completed"}', start, time.time())), 90, 1,
        "the load to complete an order")

    # The payments outage comes first, on its own, and holds until the breaker has opened and
    # rejected. Started together with the inventory faults it could come to nothing: a cart
    # whose order waits in a jammed saga answers a checkout 409 before payments is called, so
    # on a slow machine the outage could end before five checkouts had reached payments.
    chaos(stack, "inject", "service-error", "--service", "payments", "--rate", "1",
          "--duration", f"{BREAKER_WAIT_S:.0f}s", "--detach")
    wait_until(lambda: has_data(prom.range_query(
        "shop_circuit_breaker_rejected_total", start, time.time())), BREAKER_WAIT_S, 1,
        "the payments outage to open the breaker and a checkout to be rejected by it")
    chaos(stack, "inject", "esm-update", "--function", "shop-inventory",
          "--setting", "MaximumRetryAttempts=1", "--duration", "90s", "--detach")
    chaos(stack, "inject", "lambda-error", "--function", "shop-inventory", "--rate", "1",
          "--duration", "25s", "--detach")

    # the check itself can fail: a metric nobody exports has no data
    assert not has_data(prom.range_query("shop_no_such_metric_total", start, time.time()))

    boards = load_dashboards()
    pending: dict[str, tuple[Query, str]] = {}
    for board in boards.values():
        values = variable_values(board)
        for query in queries(board):
            pending[query.name] = (query, substitute(query.expr, values, rate_interval="4s",
                                                     range_="10m"))
    total = len(pending)

    def all_have_data() -> bool:
        now = time.time()
        for name, (_query, expr) in list(pending.items()):
            if has_data(prom.range_query(expr, start, now)):
                del pending[name]
        return not pending

    deadline = time.monotonic() + DATA_TIMEOUT_S
    while not all_have_data() and time.monotonic() < deadline:
        procs.alive()  # locust and prometheus
        time.sleep(2)
    empty = "\n".join(f"  {name}: {expr}" for name, (_q, expr) in sorted(pending.items()))
    assert not pending, f"{len(pending)} of {total} queries returned no data:\n{empty}"
    elapsed = time.monotonic() - t0
    (tmp / "measured.json").write_text(json.dumps({"queries": total,
                                                   "seconds_after_stack": elapsed}))
    print(f"{total} queries of {len(boards)} dashboards returned data; "
          f"{elapsed:.0f} s after the stack was up")
