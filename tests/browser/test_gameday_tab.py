"""The Locust web UI's Game day tab in a real browser, on a live stack (`gameday up --port-base
0`, the session's shared one) with `gameday load --web` on a free loopback port:

- the tab is there on the start form, before any swarm, and opens the live view;
- a fault injected from the CLI (`gameday chaos inject ... --detach`) shows within 3 s without a
  reload, with its countdown, and is gone once it expired — also after a swarm was stopped;
- an alarm in ALARM is listed first and marked, the others collapsed.

`gameday status --watch`, the terminal's view of the same status, is checked on the same stack.
Every process started here is stopped, also when a check fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.ports import free_port
from tests.browser.conftest import screenshot
from tests.conftest import REPO, RunningStack, client, wait_until

pytestmark = pytest.mark.integration

SHOWN_WITHIN_MS = 3000  # the issue: a fault injected from the CLI shows within 3 s
TEST_ALARM = "gameday-ui-test-no-data"


def gameday(stack: RunningStack, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "GAMEDAY_STATE_DIR": str(stack.state_dir)},
                          **kwargs)


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def web_ui(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gameday load --web` on a free loopback port; its base URL."""
    tmp = tmp_path_factory.mktemp("web")
    port = free_port()
    log = tmp / "load.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gameday", "load", "--web", "--web-port", str(port),
             "--state-dir", str(stack.state_dir), "--out", str(tmp / "reports")],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return requests.get(base + "/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(up, 60, 0.2, "the Locust web UI")
        yield base
    finally:
        stop(proc)


def inject(stack: RunningStack, fault: str, seconds: float, *params: str) -> float:
    """Inject from the CLI, detached; when it expires."""
    done = gameday(stack, "chaos", "inject", fault, *params, "--duration", f"{seconds:g}s",
                   "--detach")
    assert done.returncode == 0, done.stdout + done.stderr
    return time.time() + seconds


def test_the_tab_before_a_swarm_and_after_one_shows_faults_and_alarms_live(
        stack: RunningStack, web_ui: str, page: Any) -> None:
    cloudwatch = client("cloudwatch", stack.urls["aws"])
    try:
        page.goto(web_ui + "/")
        tab = page.locator("#gameday-tab")
        tab.wait_for(state="visible", timeout=10_000)
        assert "ready" in page.evaluate("window.templateArgs.state")  # no swarm yet
        tab.click()
        view = page.frame_locator("#gameday-frame")
        view.locator("#gd-no-fault").wait_for(timeout=10_000)
        for name in ("payments", "reviews"):
            view.locator(f"tr[data-breaker={name}]").wait_for(timeout=5_000)
        assert "read " in view.locator("[data-age-of=breakers]").inner_text()

        # a fault from the CLI, before any swarm: shown within 3 s, no reload, then gone
        ends = inject(stack, "service-latency", 4, "--service", "payments", "--delay", "50ms")
        row = view.locator("tr[data-fault=service-latency]")
        row.wait_for(timeout=SHOWN_WITHIN_MS)
        assert "payments" in row.inner_text() and " left" in row.inner_text()
        row.wait_for(state="detached", timeout=int((ends - time.time() + 3) * 1000))

        # an alarm in ALARM: first and marked; the others collapsed
        cloudwatch.put_metric_alarm(
            AlarmName=TEST_ALARM, Namespace="GamedayTest", MetricName="NeverPublished",
            Statistic="Maximum", Period=10, EvaluationPeriods=1, DatapointsToAlarm=1,
            Threshold=1, ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="breaching")  # no data, breaching: the evaluator sets ALARM
        firing = view.locator(f"#gd-alarms-firing tr[data-alarm={TEST_ALARM}]")
        firing.wait_for(timeout=15_000)
        rows = view.locator("#gd-alarms tr")
        assert rows.first.get_attribute("data-alarm") == TEST_ALARM
        badge = firing.locator(".gd-badge")
        assert badge.inner_text() == "ALARM" and "bad" in badge.get_attribute("class")
        assert firing.evaluate("e => getComputedStyle(e.cells[0]).backgroundColor") \
            != "rgba(0, 0, 0, 0)"
        others = view.locator("#gd-alarms details")
        assert others.get_attribute("open") is None
        assert " other alarms: " in others.locator("summary").inner_text()
        assert not view.locator(f"#gd-alarms details tr[data-alarm={TEST_ALARM}]").count()
        assert "ALARM" in tab.inner_text()  # the tab's badge counts it

        # after a swarm was started and stopped (Locust's own poll is off again)
        answer = requests.post(web_ui + "/swarm", data={"user_count": 1, "spawn_rate": 1},
                               timeout=10)
        assert answer.json()["success"], answer.text
        time.sleep(1.5)
        requests.post(web_ui + "/stop", timeout=10)
        wait_until(lambda: requests.get(web_ui + "/stats/requests", timeout=5).json()
                   ["state"] == "stopped", 20, 0.3, "the swarm to stop")
        ends = inject(stack, "service-error", 6, "--service", "reviews", "--rate", "0.1")
        row = view.locator("tr[data-fault=service-error]")
        row.wait_for(timeout=SHOWN_WITHIN_MS)
        assert "reviews" in row.inner_text()
        time.sleep(1.0)
        screenshot(page, "gameday-tab.png")
        row.wait_for(state="detached", timeout=int((ends - time.time() + 3) * 1000))
        assert page.problems == []
    finally:
        cloudwatch.delete_alarms(AlarmNames=[TEST_ALARM])
        gameday(stack, "chaos", "cleanup")


def test_gameday_status_watch_shows_the_same_until_ctrl_c(stack: RunningStack,
                                                          tmp_path: Path) -> None:
    inject(stack, "service-latency", 8, "--service", "payments", "--delay", "50ms")
    out = tmp_path / "watch.out"
    try:
        with out.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gameday", "status", "--watch", "--interval", "0.5",
                 "--state-dir", str(stack.state_dir)],
                cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: out.read_text().count("ALARMS (") >= 3, 20, 0.2,
                       "three redraws")
        finally:
            stop(proc)
        assert proc.returncode == 0, out.read_text()[-2000:]
        text = out.read_text()
        assert "▲ service-latency" in text and " left (ends " in text
        assert "BREAKERS (read " in text and "payments" in text
    finally:
        gameday(stack, "chaos", "cleanup")
