"""Checkout under a payments slowdown longer than the storefront's timeout, on the real local
stack (issue 12 items 2 and 3): payments authorises after the storefront gave up. Every
checkout answers 202 or a 503 that says what happened (never 500), and once the fault is over
and the grace period has passed `gameday audit` is clean: no orphan authorisation (main left
each one AUTHORIZED forever, with no order), no double charge, no order stuck."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO, RunningStack, start_stack

pytestmark = pytest.mark.integration
FAULT_S = 10
GRACE_S = 20
WORKERS = 4


def gameday(stack: RunningStack, *argv: str, timeout_s: float = 120
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *argv, "--state-dir",
                           str(stack.state_dir)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout_s)


def audit(stack: RunningStack, grace_s: float) -> dict[str, Any]:
    out = gameday(stack, "audit", "--grace-s", str(grace_s), "--json")
    report = json.loads(out.stdout)
    assert (out.returncode == 0) == report["ok"], out.stderr
    return report


def checkout_load(base: str, stop: threading.Event, answers: Counter[str],
                  lock: threading.Lock) -> None:
    session = requests.Session()
    n = 0
    while not stop.is_set():
        n += 1
        shopper = session.post(f"{base}/v1/shoppers", json={}, timeout=10).json()
        headers = {"Authorization": f"Bearer {shopper['token']}"}
        cart = f"{base}/v1/carts/{shopper['shopper_id']}"
        added = session.post(f"{cart}/items", json={"sku": f"SKU-{n % 30 + 1:05d}", "qty": 1},
                             headers=headers, timeout=10)
        assert added.status_code == 200, added.text
        answer = session.post(f"{cart}/checkout", headers=headers, timeout=30)
        code = answer.json().get("error", {}).get("code", "") if answer.status_code >= 400 else ""
        with lock:
            answers[f"{answer.status_code} {code}".strip()] += 1


def test_payments_slower_than_the_timeout_leaves_no_orphan_authorisation(
        tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    try:
        base = stack.urls["storefront"]
        injected = gameday(stack, "chaos", "inject", "service-latency", "--service", "payments",
                           "--delay", "2500ms", "--rate", "1", "--duration", f"{FAULT_S}s",
                           "--detach")
        assert injected.returncode == 0, injected.stderr
        fault_ends = time.monotonic() + FAULT_S
        stop, lock, answers = threading.Event(), threading.Lock(), Counter[str]()
        workers = [threading.Thread(target=checkout_load, args=(base, stop, answers, lock))
                   for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        time.sleep(max(0.0, fault_ends - time.monotonic() - 1))
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        assert sum(answers.values()) >= WORKERS, answers
        assert set(answers) <= {"202", "503 dependency_unavailable", "503 outcome_unknown"}, \
            answers
        assert answers["503 dependency_unavailable"] >= 1, answers  # the fault was felt

        # the authorisations payments made after the storefront gave up end voided
        time.sleep(max(0.0, fault_ends - time.monotonic()) + GRACE_S)
        deadline = time.monotonic() + 90
        report = audit(stack, GRACE_S)
        while not report["ok"] and time.monotonic() < deadline:
            time.sleep(3)
            report = audit(stack, GRACE_S)
        assert report["ok"], report["by_subject"]
        payments = report["counts"]["payments_by_status"]
        assert payments.get("AUTHORIZED", 0) == 0, report
        assert payments.get("VOIDED", 0) >= 1, report  # the late authorisations were voided
        assert report["counts"]["orders_by_status"].get("CANCELLED", 0) >= 1, report
    finally:
        stack.stop()
