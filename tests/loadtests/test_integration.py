"""Load tests against the real local stack (`gameday up` on loopback, random ports).

Each run is a `python -m locust` subprocess, a few seconds long with few users, bounded by a
timeout. Uses the session fixture `stack` from tests/conftest.py.
"""

from __future__ import annotations

import csv
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

from gameday import load_commands
from loadtests.webui import TAB_SCRIPT
from local_stack.ports import free_port
from tests.conftest import REPO, wait_until

pytestmark = pytest.mark.integration

LOCUSTFILE = REPO / "loadtests" / "locustfile.py"
RUN_TIMEOUT_S = 90
COVERAGE_SEEDS = (42, 43, 44)

JOURNEY_ROUTES = {
    "BrowserUser": {("POST", "/v1/shoppers"), ("GET", "/v1/products?q={q}"),
                    ("GET", "/v1/weekly-products"), ("GET", "/v1/products/{sku}")},
    "ShopperUser": {("POST", "/v1/shoppers"), ("GET", "/v1/products/{sku}"),
                    ("GET", "/v1/products?q={q}"), ("POST", "/v1/carts/{cart_id}/items"),
                    ("GET", "/v1/carts/{cart_id}"), ("DELETE", "/v1/carts/{cart_id}/items/{sku}"),
                    ("POST", "/v1/carts/{cart_id}/checkout"), ("GET", "/v1/orders/{order_id}")},
    "ReviewerUser": {("POST", "/v1/shoppers"), ("GET", "/v1/products/{sku}"),
                     ("POST", "/v1/products/{sku}/reviews"), ("POST", "/v1/products/{sku}/likes"),
                     ("GET", "/v1/weekly-products")},
    "CartContentionUser": {("POST", "/v1/shoppers"), ("POST", "/v1/carts/{cart_id}/items"),
                           ("DELETE", "/v1/carts/{cart_id}/items/{sku}"),
                           ("GET", "/v1/carts/{cart_id}"),
                           ("POST", "/v1/carts/{cart_id}/checkout")},
}


def locust(stack: Any, tmp_path: Path, *args: str, users: int = 3,
           run_time: str = "8s") -> tuple[int, dict[str, Any], str]:
    """One headless run; (exit code, JSON summary, output)."""
    summary = tmp_path / "summary.json"
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(users), "-r", str(users), "-t", run_time, "--only-summary",
            "--state-dir", str(stack.state_dir), "--json-summary", str(summary),
            "--think-time", "0.05:0.2", "--order-poll-max", "4", "--order-poll-interval", "0.2",
            "--csv", str(tmp_path / "locust"), "--html", str(tmp_path / "report.html"), *args]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)
    output = proc.stdout + proc.stderr
    assert summary.exists(), output[-4000:]
    return proc.returncode, json.loads(summary.read_text()), output


@pytest.mark.parametrize("user_class", sorted(JOURNEY_ROUTES))
def test_journey_hits_every_route_without_failures(stack: Any, tmp_path: Path,
                                                   user_class: str) -> None:
    # The request sequence is seeded, but how far it gets in a timed run depends on the
    # machine: a rare step (a shopper removes an item at weight 1 of 14) may not come up in
    # a slow run. Further runs with the next seeds, each failure-free, complete the coverage.
    routes: set[tuple[str, str]] = set()
    summaries = []
    for seed in COVERAGE_SEEDS:
        code, summary, output = locust(stack, tmp_path, user_class, "--seed", str(seed))
        summaries.append(summary)
        routes |= {(r["method"], r["name"]) for r in summary["routes"] if r["requests"]}
        assert summary["total"]["failures"] == 0, summary["errors"]
        assert code == 0, output[-3000:]
        if JOURNEY_ROUTES[user_class] <= routes:
            break
    assert JOURNEY_ROUTES[user_class] <= routes, output[-3000:]
    assert summary["host"] == stack.urls["storefront"]
    assert (tmp_path / "locust_stats.csv").exists() and (tmp_path / "report.html").exists()
    if user_class == "CartContentionUser":
        conflicts = [s["conflicts"] for s in summaries]
        assert sum(c["total"] for c in conflicts) > 0, [s["counters"] for s in summaries]
        assert all(c["total"] == c["http_409"] + c["occ_retries"] for c in conflicts)


def test_mixed_run_with_reachable_gates_exits_0(stack: Any, tmp_path: Path) -> None:
    code, summary, output = locust(
        stack, tmp_path, "--gate-failure-ratio", "0.01", "--gate-p99", "Aggregated=5000",
        "--gate-p95", "GET /v1/products/{sku}=5000", "--gate-min-rps", "1",
        "--contention-users", "2", users=6, run_time="6s")
    assert code == 0, output[-3000:]
    assert summary["gates"]["passed"] and len(summary["gates"]["results"]) == 4
    assert summary["exit_code"] == 0
    assert "SLO gate met" in output


def test_impossible_gate_exits_non_zero(stack: Any, tmp_path: Path) -> None:
    code, summary, output = locust(stack, tmp_path, "BrowserUser", "--gate-p99",
                                   "Aggregated=0", users=2, run_time="4s")
    assert code == 1, output[-3000:]
    assert not summary["gates"]["passed"]
    assert "SLO gate MISSED: p99 Aggregated" in output and "limit 0 ms" in output


def test_spike_shape_ends_the_run_itself(stack: Any, tmp_path: Path) -> None:
    code, summary, output = locust(
        stack, tmp_path, "BrowserUser", "--shape", "spike", "--shape-users", "1",
        "--spike-users", "3", "--spike-at", "2s", "--spike-duration", "2s",
        "--shape-duration", "6s", run_time="30s")
    assert code == 0, output[-3000:]
    assert summary["shape"]["shape"] == "SpikeShape"
    assert summary["duration_s"] < 20  # the shape stopped it, not -t
    assert "Shape test updating to 3 users" in output




def test_web_ui_and_gameday_tab(stack: Any, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1",
         "--web-port", str(port), "--state-dir", str(stack.state_dir)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
            try:
                return requests.get(base + "/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(up, 30, 0.2, "the Locust web UI")
        page = requests.get(base + "/", timeout=5).text
        assert TAB_SCRIPT in page  # before any swarm (what a browser shows: tests/browser)
        status = requests.get(base + "/gameday/status", timeout=10).json()
        assert status["faults"] == []
        assert {b["name"] for b in status["breakers"]} >= {"payments", "reviews"}
        assert all(b["state"] in ("closed", "open", "half_open") for b in status["breakers"])
        assert "breakers" not in status["errors"], status["errors"]
        assert isinstance(status["alarms"], list)
        assert {b["name"] for b in status["view"]["breakers"]} >= {"payments", "reviews"}
        assert status["view"]["sections"]["breakers"]["read_at"] is not None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def test_gameday_load_writes_reports(stack: Any, tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="gameday")
    load_commands.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "reports"
    args = parser.parse_args(["load", "--state-dir", str(stack.state_dir), "-u", "3",
                              "-t", "5s", "--out", str(out), "--gate-failure-ratio", "0.01",
                              "--", "--think-time", "0.05:0.2"])
    started = time.monotonic()
    assert args.func(args) == 0
    assert time.monotonic() - started < RUN_TIMEOUT_S
    summary = json.loads((out / "summary.json").read_text())
    assert summary["total"]["requests"] > 0 and summary["gates"]["passed"]
    assert (out / "report.html").exists() and (out / "locust_stats.csv").exists()


def _requests_so_far(out: Path) -> int:
    """Locust's running total, from the history CSV it appends to every second."""
    try:
        rows = list(csv.DictReader((out / "locust_stats_history.csv").open()))
    except FileNotFoundError:
        return 0
    return max((int(r["Total Request Count"]) for r in rows if r["Name"] == "Aggregated"),
               default=0)


def test_sigint_stops_a_load_started_with_sigint_ignored(stack: Any, tmp_path: Path) -> None:
    """`gameday load ... & P=$!; kill -INT $P` from a script: the background job starts with
    SIGINT ignored; the run must still stop early, write its reports and exit 130."""
    out = tmp_path / "reports"
    log = (tmp_path / "load.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gameday", "load", "--state-dir", str(stack.state_dir),
         "-u", "1", "-t", "120s", "--out", str(out)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        wait_until(lambda: proc.poll() is None and _requests_so_far(out) > 0, 60, 0.3,
                   "Locust to be sending requests")
        os.kill(proc.pid, signal.SIGINT)  # to gameday load only, as `kill -INT $P` does
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
    assert code == 130, (tmp_path / "load.log").read_text()[-3000:]
    summary = json.loads((out / "summary.json").read_text())  # Locust wrote its reports
    assert summary["total"]["requests"] > 0
