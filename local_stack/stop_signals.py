"""SIGINT and SIGTERM handlers installed explicitly, for the commands that stop on Ctrl-C.

A background job of a non-interactive shell (`gameday load ... & P=$!; kill -INT $P`) starts
with SIGINT *ignored*. Python then installs no KeyboardInterrupt handler, so a command that
relies on KeyboardInterrupt never sees the signal, and every child it starts inherits the
ignore (exec keeps ignored signals; it resets caught ones to their default). Installing a
handler explicitly makes the signal count in this process, and children started while it is
installed get the default disposition back.

    with StopSignals(on_signal=lambda signum: child.send_signal(signum)) as stop:
        ...
    if stop.received: return for_signal(stop.received)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from local_stack.exit_codes import ExitCode, for_signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """A context manager: SIGINT/SIGTERM set `stopped`, remember the first signal, call
    `on_signal(signum)`; the previous handlers come back on exit. Outside the main thread
    (where Python cannot install handlers) it installs nothing."""

    def __init__(self, on_signal: Callable[[int], None] | None = None) -> None:
        self.on_signal = on_signal
        self.stopped = threading.Event()
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.received is None:
            self.received = signum
        self.stopped.set()
        if self.on_signal is not None:
            self.on_signal(signum)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    @property
    def exit_code(self) -> ExitCode | None:
        """130/143 when a signal arrived, else None."""
        return for_signal(self.received) if self.received is not None else None
