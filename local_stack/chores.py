"""Recurring chores of the local stack, on background threads of `gameday up`:

- stream heartbeats (reference_app.heartbeat), every second on a fixed-rate schedule on their
  own thread (a slow chore must not delay them: the silent-consumer alarms count them), so an
  idle consumer still publishes IteratorAge and "no data" on the jam alarms really means a
  stalled consumer;
- the OnFailure queue's depth to CloudWatch (moto publishes no SQS metrics), for the
  "DLQ not empty" alarm;
- the fault reaper: when the chaos ledger holds an active fault past its expiry (its CLI died
  before undoing it), run `python -m chaos reap` once, so even faults whose undo is an API call
  (reserved concurrency) end by themselves. The ledger is read as data; chaos is not imported.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from reference_app.config import Settings
from reference_app.heartbeat import HEARTBEAT_INTERVAL_S

log = logging.getLogger("local_stack.chores")


def expired_active_faults(ledger_path: Path, now: float | None = None) -> list[str]:
    """Fault ids the ledger says are active but past their expiry."""
    try:
        data = json.loads(ledger_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    entries = data if isinstance(data, list) else []
    now = time.time() if now is None else now
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        expires = entry.get("expires_at")
        if entry.get("status") == "active" and isinstance(expires, int | float) and expires <= now:
            out.append(str(entry.get("fault_id")))
    return out


class StackChores:
    """Runs the chores until stopped: heartbeats on their own fixed-rate thread, the others
    every second on one thread, each with its own interval."""

    def __init__(self, state_dir: Path, settings: Settings, on_failure_queue_url: str,
                 heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
                 queue_depth_interval_s: float = 5.0) -> None:
        self.state_dir = state_dir
        self.settings = settings
        self.queue_url = on_failure_queue_url
        self.heartbeat_interval_s = heartbeat_interval_s
        self.intervals = {"queue_depth": queue_depth_interval_s, "reap": 1.0}
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stack-chores", daemon=True)
        self._beats = threading.Thread(target=self._beat, name="stack-heartbeats", daemon=True)
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.reaped = 0
        self.beats = 0

    def _client(self, service: str) -> Any:
        with self._clients_lock:  # boto3 client creation is not thread-safe
            if service not in self._clients:
                from reference_app import aws

                self._clients[service] = aws.client(service, self.settings)
            return self._clients[service]

    def start(self) -> None:
        self._thread.start()
        self._beats.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._beats.join(timeout=10)

    def _beat(self) -> None:
        """Heartbeats at start + k * interval: a slow write delays that beat only, the next
        ones keep the rate (a beat more than one interval late is skipped, not bunched)."""
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.heartbeat()
                self.beats += 1
            except Exception:  # the next beat will try again
                log.exception("heartbeat failed")
            next_at += self.heartbeat_interval_s
            now = time.monotonic()
            if next_at < now:
                next_at = now
            self._stop.wait(next_at - now)

    def _due(self, chore: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(chore, float("-inf")) >= self.intervals[chore]:
            self._last[chore] = now
            return True
        return False

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for chore, action in (("queue_depth", self.queue_depth), ("reap", self.reap)):
                if self._due(chore):
                    try:
                        action()
                    except Exception:  # one failed chore must not stop the others
                        log.exception("chore %s failed", chore)

    def heartbeat(self) -> None:
        from reference_app.heartbeat import beat

        beat(self.settings, self._client("dynamodb"))

    def queue_depth(self) -> None:
        from dashboards.queue_depth import publish_queue_depth

        publish_queue_depth(self._client("sqs"), self._client("cloudwatch"), self.queue_url)

    def reap(self) -> None:
        expired = expired_active_faults(self.state_dir / "ledger.json")
        if not expired:
            return
        log.warning("faults past their expiry with nobody to undo them: %s; reaping",
                    ", ".join(expired))
        done = subprocess.run(  # noqa: S603 - our own module, fixed argv
            [sys.executable, "-m", "chaos", "reap", "--state-dir", str(self.state_dir)],
            capture_output=True, text=True, timeout=60,
        )
        self.reaped += len(expired)
        log.info("reaper exited %s: %s", done.returncode, done.stdout.strip()[-500:])
