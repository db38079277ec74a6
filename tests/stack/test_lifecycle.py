"""`gameday up` as users run it: every piece answers, dead replicas are replaced (and held down
while a hold lasts), and stopping leaves no process and no bound port behind."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest
import requests

from local_stack.ports import is_port_bound
from tests.conftest import RunningStack, start_stack, wait_until

pytestmark = pytest.mark.integration


def _all_ports(stack: RunningStack) -> list[int]:
    ports = [int(url.rsplit(":", 1)[1].split("/")[0]) for url in stack.urls.values()]
    for group in stack.state["services"].values():
        ports += [r["port"] for r in group["replicas"] if r["port"]]
    return ports


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone(pids: list[int]) -> bool:
    return not any(_alive(p) for p in pids)


def test_up_serves_replaces_and_stops_clean(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, "--replace-delay", "0.5")
    try:
        urls = stack.urls
        assert requests.get(f"{urls['storefront']}/health", timeout=5).status_code == 200
        assert requests.get(f"{urls['payments']}/health", timeout=5).status_code == 200
        spec = requests.get(f"{urls['storefront']}/openapi.json", timeout=5)
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
        groups = stack.state["services"]
        assert len(groups["storefront"]["replicas"]) == 2
        assert len(groups["payments"]["replicas"]) == 2
        for group in groups.values():
            for replica in group["replicas"]:
                assert replica["alive"], replica

        # a dead replica is replaced, and the time to replace it is logged as an event
        victim = stack.replica("storefront-1")
        os.kill(victim["pid"], signal.SIGKILL)
        replaced = wait_until(
            lambda: [e for e in stack.events()
                     if e["kind"] == "replaced" and e["process"] == "storefront-1"],
            30, what="storefront-1 to be replaced",
        )
        assert replaced[0]["seconds"] > 0
        assert replaced[0]["old_pid"] == victim["pid"]
        new = wait_until(lambda: stack.replica("storefront-1")["pid"] != victim["pid"]
                         and stack.replica("storefront-1"), 10)
        assert requests.get(f"http://127.0.0.1:{new['port']}/health", timeout=5).status_code == 200
        assert "replica storefront-1 replaced in" in stack.log_path.read_text()

        # a hold keeps a killed replica down until it expires (enforced by the supervisor)
        holds = stack.state_dir / "holds"
        hold_for = 3.0
        (holds / "payments.json").write_text(json.dumps({"until": time.time() + hold_for}))
        victim = stack.replica("payments-2")
        killed_at = time.time()
        os.kill(victim["pid"], signal.SIGKILL)
        event = wait_until(
            lambda: [e for e in stack.events()
                     if e["kind"] == "replaced" and e["process"] == "payments-2"],
            30, what="payments-2 to come back after the hold",
        )[0]
        assert event["ts"] - killed_at >= hold_for - 0.2
        assert not (holds / "payments.json").exists()

        pids = stack.pids()
        ports = _all_ports(stack)
    finally:
        code = stack.stop()
    assert code == 0, stack.log_path.read_text()[-3000:]
    wait_until(lambda: _gone(pids), 10, what="every child process to exit")
    wait_until(lambda: not any(is_port_bound(p) for p in ports), 10, what="ports to be released")
    assert not (stack.state_dir / "state.json").exists()


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, "--reviews-replicas", "1")
    try:
        pids = stack.pids()
        ports = _all_ports(stack)
        os.kill(stack.proc.pid, signal.SIGKILL)
        stack.proc.wait(timeout=10)
        wait_until(lambda: _gone(pids), 15, what="orphans to exit after the supervisor died")
        wait_until(lambda: not any(is_port_bound(p) for p in ports), 10, what="ports released")
    finally:
        stack.stop()


def test_bad_flags_are_named(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "gameday", "up", "--storefront-replicas", "0",
         "--state-dir", str(tmp_path), "--port-base", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2
    assert "storefront-replicas" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "gameday", "up", "--replace-delay", "soon"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2 and "soon" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "gameday", "status", "--state-dir", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 3 and "gameday up" in out.stderr  # no stack: ExitCode.UNAVAILABLE
