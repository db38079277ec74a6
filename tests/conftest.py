"""Fixtures shared by every test folder: a running local stack started the way users start it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

# Nothing in the tests may talk to a real AWS account: any client built without an explicit
# endpoint goes to a closed loopback port (boto3 reads AWS_ENDPOINT_URL), with dummy credentials.
os.environ.setdefault("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
for _key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_key, "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


# Test files that start a whole stack or game day (CPU-heavy, and judged on timings the shop
# must meet): pytest-xdist runs them one after another on one worker (the "stack" group),
# never two at once, while the other worker runs everything else beside them.
STACK_TEST_FILES = frozenset({
    "tests/alarms/test_detection_live.py",
    "tests/browser/test_gameday_tab.py",
    "tests/chaos/test_integration.py",
    "tests/dashboards/test_compose_entrypoints.py",
    "tests/dashboards/test_panels_live.py",
    "tests/e2e/test_checkout_resilience.py",
    "tests/e2e/test_openapi_fuzz.py",
    "tests/e2e/test_saga_e2e.py",
    "tests/gameday/test_gameday_e2e.py",
    "tests/loadtests/test_integration.py",
    "tests/shop/test_breaker_integration.py",
    "tests/loadtests/test_scale_runs.py",
    "tests/stack/test_lifecycle.py",
    "tests/stack/test_loopback_only.py",
    "tests/stack/test_redis_restart.py",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).relative_to(REPO).as_posix() in STACK_TEST_FILES:
            item.add_marker(pytest.mark.xdist_group("stack"))


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for a local (moto) endpoint, with the dummy credentials."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def lose_first_answer(aws_client: Any, operation: str) -> list[int]:
    """The first `operation` call of the boto3 `aws_client` reaches its endpoint for real and is
    applied there, then its answer is lost: a ReadTimeoutError raised from botocore's
    `before-send`, which its retry handler retries like a real one (same body, so the same
    idempotency token). Returns the status codes of the calls sent this way (one at most)."""
    import requests
    from botocore.exceptions import ReadTimeoutError

    sent: list[int] = []
    service = aws_client.meta.service_model.endpoint_prefix

    def before_send(request: Any, **_: Any) -> None:
        if sent:
            return None  # the retry, and every later call, goes out as usual
        answer = requests.request(request.method, request.url, data=request.body,
                                  headers=dict(request.headers.items()), timeout=10)
        sent.append(answer.status_code)
        raise ReadTimeoutError(endpoint_url=request.url)

    aws_client.meta.events.register(f"before-send.{service}.{operation}", before_send)
    return sent


def wait_until(predicate: Any, timeout_s: float, interval_s: float = 0.1, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what or predicate}")


class RunningStack:
    """A `gameday up` subprocess and what its state file says."""

    def __init__(self, proc: subprocess.Popen[bytes], state_dir: Path, log_path: Path) -> None:
        self.proc = proc
        self.state_dir = state_dir
        self.log_path = log_path
        self.state: dict[str, Any] = {}

    def reload(self) -> dict[str, Any]:
        self.state = json.loads((self.state_dir / "state.json").read_text())
        return self.state

    @property
    def urls(self) -> dict[str, str]:
        return self.state["urls"]

    def pids(self) -> list[int]:
        out = []
        for group in self.reload()["services"].values():
            out += [r["pid"] for r in group["replicas"] if r["pid"]]
        return out

    def replica(self, name: str) -> dict[str, Any]:
        """The replica called `name` as the state file describes it now."""
        for group in self.reload()["services"].values():
            for replica in group["replicas"]:
                if replica["name"] == name:
                    return replica
        raise KeyError(name)

    def events(self) -> list[dict[str, Any]]:
        from local_stack.supervisor import read_events

        return read_events(self.state_dir)

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode


# Every stack start_stack started, so that the session stops any a test left running (a
# leaked stack would load the machine for every test after it).
_STARTED: list[RunningStack] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for stack in _STARTED:
        if stack.proc.poll() is None:
            stack.stop()


def start_stack(tmp: Path, *extra: str, env: dict[str, str] | None = None) -> RunningStack:
    state_dir = tmp / "gameday-state"
    log_path = tmp / "gameday-up.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gameday", "up", "--port-base", "0",
         "--state-dir", str(state_dir), "--products", "40", *extra],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    stack = RunningStack(proc, state_dir, log_path)
    _STARTED.append(stack)

    def ready() -> bool:
        if proc.poll() is not None:
            tail = log_path.read_text()[-4000:]
            pytest.fail(f"gameday up exited with {proc.returncode}:\n{tail}")
        try:
            return "ready_after_s" in stack.reload()
        except (FileNotFoundError, json.JSONDecodeError):
            return False

    try:
        wait_until(ready, 120, 0.2, "the stack to be ready")
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One local stack shared by the integration tests of a session."""
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stop()
