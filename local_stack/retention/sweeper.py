"""The thread that applies every retention window in the emulator process, and what it reports.

``Sweeper(settings).start()`` after ``install()``: every ``sweep_every_s`` it trims the stream
shards, CloudWatch datapoints, X-Ray traces and SQS queues (each trim under its store's lock)
and keeps, per store, how much is held and how much was dropped so far. A trim that fails is
logged and retried at the next sweep; it never stops the server. ``stats_app(app, sweeper)``
wraps the emulator's WSGI app so ``GET /_local_stack/retention`` answers those numbers as JSON
(everything else goes to moto unchanged).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from local_stack.retention import RetentionSettings, cloudwatch, instances, sqs, streams, xray

log = logging.getLogger("local_stack.retention")

STATS_PATH = "/_local_stack/retention"


def install() -> None:
    """Apply the patches the trims rely on (idempotent); MotoHookNotFound when moto moved."""
    instances.install()
    streams.install()
    cloudwatch.install()
    xray.install()
    sqs.check()


class Sweeper:
    """Runs the trims every ``settings.sweep_every_s`` in a daemon thread."""

    def __init__(self, settings: RetentionSettings) -> None:
        self.settings = settings
        self.sweeps = 0
        self.last_sweep_s = 0.0
        self.held: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.errors: dict[str, str] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def trims(self) -> dict[str, Callable[[], tuple[int, int]]]:
        s = self.settings
        return {
            "stream_records": lambda: streams.trim(s.stream_records_s, s.stream_checkpoints),
            "metric_datapoints": lambda: cloudwatch.trim(s.metric_datapoints_s),
            "traces": lambda: xray.trim(s.traces_s),
            "sqs_messages": lambda: sqs.trim(s.sqs_messages_s or None, s.deleted_handles_s),
        }

    def sweep(self) -> None:
        """One pass over every store."""
        started = time.monotonic()
        for name, trim in self.trims().items():
            try:
                dropped, held = trim()
            except Exception as exc:  # noqa: BLE001 - logged; the next sweep tries again
                with self._lock:
                    self.errors[name] = f"{type(exc).__name__}: {exc}"
                log.exception("retention: trimming %s failed", name)
                continue
            with self._lock:
                self.held[name] = held
                self.dropped[name] = self.dropped.get(name, 0) + dropped
                self.errors.pop(name, None)
            if dropped:
                log.debug("retention: dropped %d %s, %d held", dropped, name, held)
        with self._lock:
            self.sweeps += 1
            self.last_sweep_s = time.monotonic() - started

    def start(self) -> None:
        log.info("retention: %s", ", ".join(f"{k}={v}" for k, v in
                                            self.settings.to_dict().items()))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.sweep_every_s):
            self.sweep()

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {"settings": self.settings.to_dict(), "sweeps": self.sweeps,
                    "last_sweep_s": round(self.last_sweep_s, 4), "held": dict(self.held),
                    "dropped": dict(self.dropped), "errors": dict(self.errors)}


def stats_app(app: Callable[..., Iterable[bytes]], sweeper: Sweeper) -> Callable[..., Any]:
    """`app`, with ``GET /_local_stack/retention`` answered from `sweeper`."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps(sweeper.report(), sort_keys=True).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wsgi
