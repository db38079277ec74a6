"""SIGINT/SIGTERM during a run: stop where it is and roll back, instead of dying with faults
in place. Installed only in the main thread (Python's rule) and only when asked (the game day
handles signals itself); the previous handlers come back when the run ends."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("chaos.runner.signals")


@contextmanager
def interrupt_on_signals(enabled: bool, interrupt: Callable[[], None]) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM call `interrupt()`."""
    previous: dict[int, Any] = {}
    if enabled and threading.current_thread() is threading.main_thread():
        def stop(signum: int, _frame: Any) -> None:
            log.warning("%s: stopping the run and rolling back", signal.Signals(signum).name)
            interrupt()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
