"""The load tools for real, once each, at a small size (loopback, random ports):
`gameday load --find-capacity` and `gameday load --workers 2` on the session's stack, and
`bench/soak.py` on the private stack it starts and stops itself (its audit must see no other
test's orders).

No assertion on speed (the machine is shared): each checks that the tool measured, judged and
reported what it says it did. Every child runs in its own session and is killed with its
children if it overruns.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import REPO, RunningStack

pytestmark = pytest.mark.integration

THINK = ["--think-time", "0.05:0.2", "--order-poll-max", "4", "--order-poll-interval", "0.3"]


def run(argv: list[str], timeout_s: float) -> tuple[int, str]:
    """Run a child in its own session; kill its whole group if it overruns or we fail."""
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        raise
    return proc.returncode, output


def gameday_load(stack: RunningStack, out: Path, *args: str,
                 timeout_s: float = 90) -> tuple[int, str]:
    return run([sys.executable, "-m", "gameday", "load", "--state-dir", str(stack.state_dir),
                "--out", str(out), *args], timeout_s)


def test_find_capacity_steps_up_and_reports_the_knee(stack: RunningStack,
                                                     tmp_path: Path) -> None:
    code, output = gameday_load(
        stack, tmp_path, "--find-capacity", "-u", "6", "--step-users", "3",
        "--step-duration", "7s", "--step-settle", "2s", "--gate-failure-ratio", "0.05",
        "--gate-p99", "Aggregated=5000", "--", *THINK)
    summary = json.loads((tmp_path / "summary.json").read_text())
    found = json.loads((tmp_path / "capacity.json").read_text())
    assert found == summary["shape"], output[-3000:]
    steps = found["steps"]
    assert steps and [s["users"] for s in steps] == [3, 6][: len(steps)]
    # every step but the last met both gates; the search stopped at a break or at the top
    assert all(s["passed"] for s in steps[:-1])
    assert found["unbroken"] == steps[-1]["passed"]
    assert len(steps) == 2 or not steps[-1]["passed"]
    for s in steps:
        assert s["window_s"] == pytest.approx(5, abs=1.5)  # 7 s step - 2 s settle
        assert s["requests"] > 0 and s["rps"] == pytest.approx(s["requests"] / s["window_s"],
                                                                 rel=0.01)
        gates = {g["gate"]: g for g in s["gates"]}
        assert set(gates) == {"failure_ratio", "p99 Aggregated"}
        assert s["passed"] == all(g["passed"] for g in gates.values())
        assert gates["p99 Aggregated"]["observed"] == s["p99_ms"]
    # the windows are cut out of the run: never more requests than the run made
    assert sum(s["requests"] for s in steps) <= summary["total"]["requests"]
    knee = found["knee"]
    passed = [s for s in steps if s["passed"]]
    if passed:
        assert knee == max(passed, key=lambda s: s["rps"])
        assert code == 0 and f"capacity: {'at least ' if found['unbroken'] else ''}" \
            f"{knee['rps']:.1f} req/s at {knee['users']} users" in output
    else:
        assert knee is None and code == 1 and "capacity: no step met the gates" in output
    assert "<- knee" in output or knee is None
    svg = ET.fromstring((tmp_path / "capacity.svg").read_text())
    assert svg.tag.endswith("svg")
    assert (tmp_path / "report.html").exists() and (tmp_path / "locust_stats.csv").exists()


def test_two_workers_add_up_on_the_master(stack: RunningStack, tmp_path: Path) -> None:
    code, output = gameday_load(
        stack, tmp_path, "--workers", "2", "-u", "6", "-t", "8s", "--contention-users",
        "4", "--gate-failure-ratio", "1", "--gate-min-rps", "100000", "--", *THINK)
    summary = json.loads((tmp_path / "summary.json").read_text())
    workers = [json.loads(p.read_text())
               for p in sorted(tmp_path.glob("summary.worker-*.json"))]
    assert [w["worker_index"] for w in workers] == [0, 1], output[-3000:]
    assert all(w["requests"] > 0 for w in workers)
    total = summary["total"]
    # the master's totals are the sum of what each worker counted itself
    assert total["requests"] == sum(w["requests"] for w in workers) > 0
    assert total["failures"] == sum(w["failures"] for w in workers)
    reported = {row["client_id"]: row for row in summary["workers"]}
    for w in workers:
        assert reported[w["client_id"]]["requests"] == w["requests"]
        assert reported[w["client_id"]]["final_report"] is True
    # and so are our counters (409s, OCC retries, order outcomes, ...)
    counters = {metric: data["total"] for metric, data in summary["counters"].items()}
    summed: dict[str, int] = {}
    for w in workers:
        for metric, n in w["counters"].items():
            summed[metric] = summed.get(metric, 0) + n
    assert counters == summed and sum(counters.values()) > 0
    # the gates are judged on the master's aggregate: one met, one missed -> exit 1
    gates = {g["gate"]: g for g in summary["gates"]["results"]}
    assert gates["failure_ratio"]["passed"]
    assert gates["failure_ratio"]["observed"] == pytest.approx(
        total["failures"] / total["requests"])
    assert not gates["min_rps"]["passed"]
    assert gates["min_rps"]["observed"] == pytest.approx(total["rps"], rel=0.01)
    assert code == 1 and summary["exit_code"] == 1


def test_soak_bench_at_a_tiny_size(tmp_path: Path) -> None:
    # a knee of 4 users at 20 req/s: the soak paces half of its req/s with its 4 users
    capacity = tmp_path / "capacity.json"
    capacity.write_text(json.dumps({"knee": {"users": 4, "rps": 20.0}}))
    code, output = run([sys.executable, str(REPO / "bench" / "soak.py"), "--minutes", "0.4",
                        "--bucket", "8s", "--capacity", str(capacity), "--fraction", "0.5",
                        "--sample-every", "2", "--settle-timeout", "60",
                        "--out", str(tmp_path), "--", *THINK], timeout_s=240)
    result: dict[str, Any] = json.loads((tmp_path / "soak.json").read_text())
    assert result["paced_rps"] == 10.0 and result["users"] == 4
    assert 0 < result["total"]["rps"] <= 10.0 * 1.2, result["total"]  # paced, not flat out
    # it started a stack of its own, and stopped every process of it
    assert result["stack"]["started_here"] and len(result["stack"]["pids"]) >= 8
    assert not [pid for pid in result["stack"]["pids"] if psutil.pid_exists(pid)]
    buckets = result["buckets"]
    assert len(buckets) == 3, output[-3000:]
    for b in buckets:
        assert b["users"] == 4 and b["requests"] > 0 and b["p99_ms"] is not None
        assert b["emulator_mb"] > 0 and b["rss_mb"]  # sampled within the bucket
        assert {"storefront", "stream-runtime"} <= set(b["group_rss_mb"])
        assert b["in_flight_max"] is not None and b["saga_lag_s"] is not None
    drift = result["drift"]
    assert drift["buckets_per_window"] == 1 and drift["first"]["requests"] > 0
    assert isinstance(drift["within"], bool)
    assert result["emulator_rss_growth"]["from"] > 0
    assert result["settle"]["settled"], result["settle"]
    assert result["audit"]["ok"], result["audit"]
    assert result["audit"]["counts"]["orders_in_flight"] == 0
    assert code == 0 and "every order settled" in output and "audit clean" in output
