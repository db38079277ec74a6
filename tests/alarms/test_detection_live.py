"""Live: the evaluator process (``python -m local_stack.alarm_evaluator --interval 1``) against a
moto server while IteratorAge datapoints arrive every second, as the stream runtime sends them.

* five consumers jam one after the other, 2 s apart (so the jams start at different phases of
  the 10-second period): each ``*-stream-jam`` alarm goes OK -> ALARM, the time from the first
  failed batch to ALARM is measured, then the consumer recovers and the alarm goes back to OK;
  the transitions are read back with describe_alarms and describe_alarm_history;
* one consumer stalls (publishes nothing any more): its jam alarm (TreatMissingData=breaching)
  goes to ALARM, while the same alarm with TreatMissingData=missing (AWS's default) never
  does — the negative control;
* the evaluator's Prometheus endpoint shows ``cloudwatch_alarm_state``.

The detection times and the estimate for a standard 1-minute, 1-of-1 alarm are logged (run with
``-o log_cli=true --log-cli-level=INFO`` to see them) and recorded as JUnit properties.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards import cloudwatch_alarms as ca
from local_stack.alarm_evaluator.datapoints import as_utc
from local_stack.ports import free_port
from tests.alarms.moto_helpers import subprocess_env
from tests.conftest import REPO, client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]
log = logging.getLogger("tests.alarms.detection")

JAMMED = [f"shop-live-jam-{k}" for k in range(5)]
STALLED = "shop-live-stall"
HEALTHY_AGE_MS = 200.0
PREFIX = "t-"


class IteratorAgePublisher:
    """Publishes IteratorAge every second per consumer: healthy, jammed since t, or silent."""

    def __init__(self, endpoint: str) -> None:
        self.cloudwatch = client("cloudwatch", endpoint)
        self.jam_since: dict[str, float] = {}
        self.recovered: set[str] = set()
        self.silent: set[str] = set()
        self.first_failed: dict[str, float] = {}
        self.first_breach: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self.errors: list[BaseException] = []

    def age_ms(self, fn: str, now: float) -> float:
        since = self.jam_since.get(fn)
        if since is None or now < since or fn in self.recovered:
            return HEALTHY_AGE_MS
        # a failing batch is retried with the same records: their age grows with the clock
        return 300.0 + 1000.0 * (now - since)

    def publish(self, at: float, record: bool = True) -> None:
        data = []
        for fn in [*JAMMED, STALLED]:
            if fn in self.silent:
                continue
            age = self.age_ms(fn, at)
            if record and age > HEALTHY_AGE_MS:
                self.first_failed.setdefault(fn, at)
                if age > ca.JAM_ITERATOR_AGE_MS:
                    self.first_breach.setdefault(fn, at)
            data.append({"MetricName": ca.ITERATOR_AGE, "Unit": "Milliseconds",
                         "Dimensions": [{"Name": ca.FUNCTION_NAME_DIMENSION, "Value": fn}],
                         "Timestamp": dt.datetime.fromtimestamp(at, dt.UTC), "Value": age,
                         "StorageResolution": 1})
        if data:
            self.cloudwatch.put_metric_data(Namespace=ca.LAMBDA_NAMESPACE, MetricData=data)

    def backfill(self, seconds: int) -> None:
        """The consumers were healthy before the alarms were created."""
        now = time.time()
        for back in range(seconds, 0, -1):
            self.publish(now - back, record=False)

    def _run(self) -> None:
        while not self._stop.wait(1.0 - time.time() % 1.0):
            try:
                self.publish(time.time())
            except Exception as exc:  # surfaced by the test
                self.errors.append(exc)

    def __enter__(self) -> IteratorAgePublisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture()
def evaluator_process(endpoint: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes],
                                                                         int, Path]]:
    port = free_port()
    log_path = tmp_path / "alarm-evaluator.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "local_stack.alarm_evaluator", "--interval", "1",
             "--metrics-port", str(port)],
            cwd=REPO, env=subprocess_env(endpoint), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        yield proc, port, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the whole group
            proc.wait(timeout=10)


def poll(predicate: Callable[[], Any], deadline: float, what: str, interval: float = 0.2) -> Any:
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def standard_one_minute_alarm_estimate(crossing_s: float) -> tuple[float, float, float]:
    """Detection time (best, mean, worst, seconds after the first failed batch) of a standard
    CloudWatch alarm on Lambda IteratorAge: Period 60, 1 datapoint out of 1.

    Reasoning with AWS's evaluation delays: the breaching minute must end (0-60 s after the
    threshold is crossed, 30 s on average); Lambda sends its metrics once per minute, so that
    minute's datapoint arrives up to a minute later; and a standard alarm is evaluated once per
    minute (another 0-60 s). Best case: crossing + 0 + 0 + 0; mean: crossing + 30 + 30 + 30;
    worst: crossing + 60 + 60 + 60.
    """
    return crossing_s, crossing_s + 90.0, crossing_s + 180.0


def test_jam_detected_within_15_s_and_stall_only_with_breaching(
    endpoint: str, history_patch: None, evaluator_process: tuple[Any, int, Path],
    record_property: Callable[[str, object], None],
) -> None:
    proc, metrics_port, log_path = evaluator_process
    cw = client("cloudwatch", endpoint)
    alarms = {fn: ca.stream_jam_alarm(fn, PREFIX) for fn in [*JAMMED, STALLED]}
    control = dataclasses.replace(alarms[STALLED], name=alarms[STALLED].name + "-missing-control",
                                  treat_missing_data="missing")
    publisher = IteratorAgePublisher(endpoint)
    publisher.backfill(35)
    for alarm in [*alarms.values(), control]:
        cw.put_metric_alarm(**alarm.to_put_metric_alarm())

    def states() -> dict[str, dict[str, Any]]:
        return {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=PREFIX)[
            "MetricAlarms"]}

    def all_ok() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"evaluator exited: {log_path.read_text()[-3000:]}")
        return all(a["StateValue"] == "OK" for a in states().values())

    with publisher:
        poll(all_ok, time.time() + 25, "every alarm to start OK")
        start = time.time()
        publisher.silent.add(STALLED)
        stall_at = start
        for k, fn in enumerate(JAMMED):
            publisher.jam_since[fn] = start + 0.5 + 2 * k

        detected: dict[str, float] = {}
        recovered_ok: set[str] = set()
        stall_alarm_at: float | None = None
        deadline = start + 60
        while time.time() < deadline:
            current = states()
            for fn in JAMMED:
                alarm = current[alarms[fn].name]
                if fn not in detected and alarm["StateValue"] == "ALARM":
                    detected[fn] = as_utc(alarm["StateUpdatedTimestamp"]).timestamp()
                    publisher.recovered.add(fn)  # the poison record is gone: healthy again
                elif fn in detected and alarm["StateValue"] == "OK":
                    recovered_ok.add(fn)
            stalled = current[alarms[STALLED].name]
            if stall_alarm_at is None and stalled["StateValue"] == "ALARM":
                stall_alarm_at = as_utc(stalled["StateUpdatedTimestamp"]).timestamp()
            assert current[control.name]["StateValue"] != "ALARM", "negative control alarmed"
            if (len(recovered_ok) == len(JAMMED) and stall_alarm_at is not None
                    and current[control.name]["StateValue"] == "INSUFFICIENT_DATA"):
                break
            time.sleep(0.2)
        assert not publisher.errors, publisher.errors

    final = states()
    assert set(detected) == set(JAMMED), f"not detected: {set(JAMMED) - set(detected)}"
    assert recovered_ok == set(JAMMED), f"did not return to OK: {set(JAMMED) - recovered_ok}"
    assert stall_alarm_at is not None, "the stalled consumer was not detected with breaching"
    assert final[control.name]["StateValue"] == "INSUFFICIENT_DATA"

    # History, read the way one reads it on AWS.
    for name, expected in [
        (alarms[JAMMED[0]].name, ["INSUFFICIENT_DATA to OK", "OK to ALARM", "ALARM to OK"]),
        (alarms[STALLED].name, ["INSUFFICIENT_DATA to OK", "OK to ALARM"]),
        (control.name, ["INSUFFICIENT_DATA to OK", "OK to INSUFFICIENT_DATA"]),
    ]:
        items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate",
                                          ScanBy="TimestampAscending")["AlarmHistoryItems"]
        assert [i["HistorySummary"].removeprefix("Alarm updated from ") for i in items] == expected
    stall_change = json.loads(cw.describe_alarm_history(
        AlarmName=alarms[STALLED].name, HistoryItemType="StateUpdate")["AlarmHistoryItems"][0][
        "HistoryData"])
    assert stall_change["newState"]["stateReason"] == (
        "Threshold Crossed: no datapoints were received for 3 periods and 1 missing datapoint "
        "was treated as [Breaching].")

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as page:
        exposition = page.read().decode()
    assert (f'cloudwatch_alarm_state{{alarm="{alarms[STALLED].name}",state="ALARM"}} 1.0'
            in exposition)
    assert "cloudwatch_alarm_transitions_total" in exposition

    after_failed = [detected[fn] - publisher.first_failed[fn] for fn in JAMMED]
    after_breach = [detected[fn] - publisher.first_breach[fn] for fn in JAMMED]
    crossing = statistics.mean(publisher.first_breach[fn] - publisher.first_failed[fn]
                               for fn in JAMMED)
    best, mean, worst = standard_one_minute_alarm_estimate(crossing)
    summary = {
        "jam_detection_after_first_failed_batch_s": [round(x, 1) for x in after_failed],
        "jam_detection_after_first_breaching_datapoint_s": [round(x, 1) for x in after_breach],
        "jam_detection_mean_s": round(statistics.mean(after_failed), 1),
        "jam_detection_max_s": round(max(after_failed), 1),
        "stall_detection_s": round(stall_alarm_at - stall_at, 1),
        "standard_1min_alarm_estimate_s": {"best": round(best, 1), "mean": round(mean, 1),
                                           "worst": round(worst, 1)},
    }
    for key, value in summary.items():
        record_property(key, value)
    log.info("alarm detection: %s", json.dumps(summary))
    assert max(after_failed) < 15.0, summary
    assert 20.0 <= stall_alarm_at - stall_at <= 45.0, summary
