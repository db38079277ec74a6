"""How long accepted orders take to become final after a payments outage at peak checkout
(issue 12 item 4; target: every accepted order final within 60 s of payments being back).

    python bench/settle_after_payments_outage.py [--workers 8] [--factors 1,4,1,4] [--orders 100]

What decides it is the backlog the outage leaves and how fast the saga drains it. Starts a
local stack (random ports, private state dir) and for each ParallelizationFactor in `--factors`
(set on the three orders-stream mappings through the Lambda API, so the runs share one stack;
later runs meet bigger tables, which only makes them slower): pauses the shop-payment mapping —
its records wait, as they do while payments is down — while `--workers` checkout loops get
`--orders` checkouts accepted, resumes it, and polls every accepted order until it is COMPLETED
or CANCELLED. Prints, per factor: the backlog, seconds from the resume to the last order final,
and the drain rate. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ORDERS_FUNCTIONS = ("shop-inventory", "shop-payment", "shop-order-completion")
TERMINAL = ("COMPLETED", "CANCELLED")


def start(state_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    log = (state_dir.parent / "up.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gameday", "up", "--port-base", "0",
                             "--state-dir", str(state_dir), "--products", "40"], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(240):
        try:
            state = json.loads((state_dir / "state.json").read_text())
            if "ready_after_s" in state:
                return proc, state
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("the stack did not start")


def set_factor(state: dict[str, Any], factor: int) -> None:
    lam = boto3.client("lambda", endpoint_url=state["urls"]["aws"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    for name, uuid in state["deployment"]["mappings"].items():
        if name in ORDERS_FUNCTIONS:
            lam.update_event_source_mapping(UUID=uuid, ParallelizationFactor=factor)


def load(base: str, stop: threading.Event, accepted: list[tuple[str, dict[str, str]]],
         lock: threading.Lock, answers: Counter[str]) -> None:
    session = requests.Session()
    n = 0
    while not stop.is_set():
        n += 1
        try:
            shopper = session.post(f"{base}/v1/shoppers", json={}, timeout=15).json()
            headers = {"Authorization": f"Bearer {shopper['token']}"}
            cart = f"{base}/v1/carts/{shopper['shopper_id']}"
            session.post(f"{cart}/items", json={"sku": f"SKU-{n % 40 + 1:05d}", "qty": 1},
                         headers=headers, timeout=15)
            answer = session.post(f"{cart}/checkout", headers=headers, timeout=15)
        except requests.RequestException as exc:
            with lock:
                answers[type(exc).__name__] += 1
            continue
        with lock:
            answers[f"{answer.status_code} {answer.json().get('error', {}).get('code', '')}"
                    .strip()] += 1
        if answer.status_code == 202:
            with lock:
                accepted.append((answer.json()["order_id"], headers))


def status(base: str, order_id: str, headers: dict[str, str]) -> str | None:
    try:
        return requests.get(f"{base}/v1/orders/{order_id}", headers=headers,
                            timeout=10).json().get("status")
    except (requests.RequestException, ValueError):
        return None


def set_enabled(state: dict[str, Any], function: str, enabled: bool) -> None:
    lam = boto3.client("lambda", endpoint_url=state["urls"]["aws"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    lam.update_event_source_mapping(UUID=state["deployment"]["mappings"][function],
                                    Enabled=enabled)


def one_run(state_dir: Path, state: dict[str, Any], factor: int, workers: int,
            orders: int) -> dict[str, Any]:
    """Hold the payment consumer (as a payments outage does: its records wait) while `orders`
    checkouts are accepted, release it, and time the backlog to final."""
    set_factor(state, factor)
    set_enabled(state, "shop-payment", False)
    time.sleep(3)  # the runtime re-reads the mappings every second
    base = state["urls"]["storefront"]
    stop, lock, accepted, answers = threading.Event(), threading.Lock(), [], Counter[str]()
    threads = [threading.Thread(target=load, args=(base, stop, accepted, lock, answers),
                                daemon=True)
               for _ in range(workers)]
    for thread in threads:
        thread.start()
    while len(accepted) < orders:
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    released = time.monotonic()
    set_enabled(state, "shop-payment", True)
    final: dict[str, float] = {}
    deadline = time.monotonic() + 600
    while len(final) < len(accepted) and time.monotonic() < deadline:
        for order_id, headers in accepted:
            if order_id not in final and status(base, order_id, headers) in TERMINAL:
                final[order_id] = time.monotonic()
        time.sleep(0.5)
    last = max(final.values(), default=released)
    return {"factor": factor, "answers": dict(answers), "backlog": len(accepted),
            "not_final": len(accepted) - len(final),
            "settle_s": round(last - released, 1),
            "drain_per_s": round(len(final) / max(0.1, last - released), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--factors", default="1,4")
    parser.add_argument("--orders", type=int, default=100)
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the stack is always stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="settle-bench-") as tmp:
        state_dir = Path(tmp) / "state"
        proc, state = start(state_dir)
        try:
            for factor in (int(f) for f in args.factors.split(",")):
                result = one_run(state_dir, state, factor, args.workers, args.orders)
                print(json.dumps(result), flush=True)
        finally:
            subprocess.run([sys.executable, "-m", "gameday", "down", "--state-dir",
                            str(state_dir)], cwd=REPO, capture_output=True, check=False)
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
