"""Waiting for a condition with a deadline (never a fixed sleep): poll until it holds, the
deadline passes, or a stop event (an abort) is set."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("chaos.probes.waiting")


@dataclass
class WaitResult:
    ok: bool
    value: Any
    elapsed_s: float
    attempts: int
    error: str | None = None
    aborted: bool = False


def wait_until(
    read: Callable[[], Any],
    holds: Callable[[Any], bool],
    timeout_s: float,
    interval_s: float = 0.25,
    stop: threading.Event | None = None,
) -> WaitResult:
    """Call `read()` until `holds(value)` is true or `timeout_s` passes; a read that raises
    counts as not holding (its error is kept). Always reads at least once."""
    start = time.monotonic()
    attempts = 0
    value: Any = None
    error: str | None = None
    while True:
        attempts += 1
        try:
            value = read()
            error = None
            if holds(value):
                return WaitResult(True, value, time.monotonic() - start, attempts)
        except Exception as exc:  # noqa: BLE001 - a failing read is "not yet"
            error = f"{type(exc).__name__}: {exc}"
            log.debug("read failed: %s", error)
        remaining = timeout_s - (time.monotonic() - start)
        if remaining <= 0:
            return WaitResult(False, value, time.monotonic() - start, attempts, error)
        if stop is not None:
            if stop.wait(min(interval_s, remaining)):
                return WaitResult(False, value, time.monotonic() - start, attempts, error,
                                  aborted=True)
        else:
            time.sleep(min(interval_s, remaining))
