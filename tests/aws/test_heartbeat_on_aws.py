"""The silent-consumer alarm is valid on AWS: the deployed heartbeat writer (an EventBridge
rule once a minute invoking `reference_app.heartbeat.handler` with the template's timeout)
keeps every 10-second period of every consumer above the alarm's threshold, so a live consumer
is never "silent" on AWS. Simulated on a fake clock with EventBridge's delivery jitter."""

from __future__ import annotations

import random
from typing import Any

import yaml

from dashboards.cloudwatch_alarms import SILENT_HEARTBEATS_PER_PERIOD, SILENT_PERIOD_S
from deploy.aws import template
from reference_app import heartbeat

WRITE_S = 0.25  # one beat's three PutItems, slow


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeContext:
    """Lambda's context: the time left before the function's timeout."""

    def __init__(self, clock: FakeClock, timeout_s: float) -> None:
        self.deadline = clock.now + timeout_s
        self.clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - self.clock.now) * 1000)


def _deployed_heartbeat() -> tuple[float, str]:
    doc = yaml.safe_load(template.TEMPLATE_PATH.read_text())
    resources = doc["Resources"]
    function = next(r["Properties"] for r in resources.values()
                    if r["Type"] == "AWS::Lambda::Function"
                    and r["Properties"]["FunctionName"] == template.HEARTBEAT)
    schedule = next(r["Properties"]["ScheduleExpression"] for r in resources.values()
                    if r["Type"] == "AWS::Events::Rule"
                    and r["Properties"]["Targets"][0]["Id"] == template.HEARTBEAT)
    return float(function["Timeout"]), schedule


def _beats(invocations: list[float], timeout_s: float) -> list[float]:
    """Write times of every beat, each invocation run on its own fake clock."""
    times: list[float] = []
    for start in invocations:
        clock = FakeClock()
        clock.now = start

        def writer(clock: FakeClock = clock) -> int:
            clock.now += WRITE_S
            times.append(clock.now)
            return 3

        heartbeat.handler({}, FakeContext(clock, timeout_s), clock=clock, sleep=clock.sleep,
                          writer=writer)
        assert clock.now - start < timeout_s, "the writer ran into its timeout"
    return sorted(times)


def test_every_period_has_enough_heartbeats_on_aws() -> None:
    timeout_s, schedule = _deployed_heartbeat()
    assert schedule == "rate(1 minute)"
    rng = random.Random(7)
    for _ in range(20):
        # EventBridge delivers a scheduled event within seconds of the minute, not exactly on it
        invocations = [minute * 60.0 + rng.uniform(0.0, 5.0) for minute in range(10)]
        beats = _beats(invocations, timeout_s)
        for start in range(SILENT_PERIOD_S * 1, 9 * 60, SILENT_PERIOD_S):
            count = sum(start <= t < start + SILENT_PERIOD_S for t in beats)
            assert count >= SILENT_HEARTBEATS_PER_PERIOD, (start, count, invocations)


def test_the_writer_stops_before_the_timeout() -> None:
    clock = FakeClock()
    result: dict[str, Any] = heartbeat.handler(
        {}, FakeContext(clock, 20.0), clock=clock, sleep=clock.sleep, writer=lambda: 3)
    assert clock.now <= 20.0 - heartbeat.TIMEOUT_MARGIN_S + heartbeat.HEARTBEAT_INTERVAL_S
    assert result["beats"] >= 15 and result["written"] == 3 * result["beats"]
