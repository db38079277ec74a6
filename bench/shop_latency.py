"""Requests/s and latency of product detail and add-to-cart on the local stack, the share of each
request's time spent in the AWS emulator (from the shop's own X-Ray traces), and the cost of the
instrumentation (tracing + CloudWatch publishing on vs off), measured side by side in one run.

    python bench/shop_latency.py [--seconds 10] [--threads 8] [--rounds 2]

Starts two stacks on random loopback ports — one with everything on, one with
SHOP_TRACING_ENABLED=false and SHOP_CLOUDWATCH_ENABLED=false — and alternates the load between
them round by round, so both see the same machine noise. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import requests

REPO = Path(__file__).resolve().parent.parent


def start(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    state_dir = tmp / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gameday", "up", "--port-base", "0", "--state-dir",
         str(state_dir), "--products", "60"],
        cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            state = json.loads((state_dir / "state.json").read_text())
            if "ready_after_s" in state:
                return proc, state
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("stack did not start")


def drive(base: str, route: str, seconds: float, threads: int) -> list[float]:
    """Latencies (s) of `route` ("detail" or "add") hammered by `threads` for `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        s = requests.Session()
        shopper = s.post(f"{base}/v1/shoppers", json={}, timeout=10).json()
        s.headers["Authorization"] = f"Bearer {shopper['token']}"
        mine: list[float] = []
        i = 0
        while time.monotonic() < stop:
            i += 1
            sku = f"SKU-{(n * 7 + i) % 60 + 1:05d}"
            t0 = time.perf_counter()
            if route == "detail":
                r = s.get(f"{base}/v1/products/{sku}", timeout=10)
            else:
                if i % 15 == 0:  # keep the cart under its 20-line limit
                    for item in s.get(f"{base}/v1/carts/{shopper['shopper_id']}",
                                      timeout=10).json()["items"]:
                        s.delete(f"{base}/v1/carts/{shopper['shopper_id']}/items/"
                                 f"{item['sku']}", timeout=10)
                    continue
                r = s.post(f"{base}/v1/carts/{shopper['shopper_id']}/items",
                           json={"sku": sku, "qty": 1}, timeout=10)
            if r.status_code == 200:
                mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def emulator_share(state: dict[str, Any], since: float) -> dict[str, float]:
    """From the traces: mean share of a storefront segment's time spent in DynamoDB calls."""
    xray = boto3.client("xray", endpoint_url=state["urls"]["aws"], region_name="us-east-1",
                        aws_access_key_id="t", aws_secret_access_key="t")
    ids = [t["Id"] for t in xray.get_trace_summaries(
        StartTime=since, EndTime=time.time() + 5)["TraceSummaries"]][:200]
    shares: dict[str, list[float]] = {}
    for start in range(0, len(ids), 5):
        for trace in xray.batch_get_traces(TraceIds=ids[start:start + 5])["Traces"]:
            for seg in trace["Segments"]:
                doc = json.loads(seg["Document"])
                if doc["name"] != "shop-storefront":
                    continue
                total = doc["end_time"] - doc["start_time"]
                ddb = sum(s["end_time"] - s["start_time"] for s in doc.get("subsegments", [])
                          if s.get("namespace") == "aws")
                route = doc.get("http", {}).get("request", {}).get("method", "?")
                if total > 0:
                    shares.setdefault(route, []).append(ddb / total)
    return {k: statistics.mean(v) for k, v in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    off = {"SHOP_TRACING_ENABLED": "false", "SHOP_CLOUDWATCH_ENABLED": "false"}
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        stacks = {"instrumented": start(Path(a), {}), "bare": start(Path(b), off)}
        results: dict[tuple[str, str], list[float]] = {}
        since = time.time()
        try:
            for _round in range(args.rounds):
                for route in ("detail", "add"):
                    for name, (_proc, state) in stacks.items():
                        lat = drive(state["urls"]["storefront"], route, args.seconds,
                                    args.threads)
                        results.setdefault((name, route), []).extend(lat)
            seconds = args.seconds * args.rounds
            print(f"{'stack':<13} {'route':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for (name, route), lat in sorted(results.items()):
                print(f"{name:<13} {route:<8} {len(lat) / seconds:8.1f} {pct(lat, .5):8.1f} "
                      f"{pct(lat, .99):8.1f}")
            for route in ("detail", "add"):
                on = len(results[("instrumented", route)])
                bare = len(results[("bare", route)])
                print(f"instrumentation cost on {route}: {100 * (1 - on / bare):.1f}% fewer req/s")
            shares = emulator_share(stacks["instrumented"][1], since)
            for method, share in shares.items():
                print(f"share of storefront time in the AWS emulator ({method}): {share:.0%}")
        finally:
            for proc, _state in stacks.values():
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
