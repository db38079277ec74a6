"""What the terminal shows while a game day runs: never a silent wait.

On a terminal, one status line rewritten every second:

    [1:42 elapsed, ~2:10 left] experiment 2/5 payments-breaker: method step 2/4: breaker-opens

and a permanent line for each finished phase. When the output is not a terminal (CI, a pipe),
the status line is printed as a plain line every `interval_s` seconds and whenever the phase
changes, so logs stay readable. An open-ended phase (`--keep`'s wait for Ctrl-C) has no time
left to show, and is printed once when not on a terminal. Log records go through `println` so
they never collide with the status line.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


def format_clock(seconds: float | None) -> str:
    """1:05, 12:00, 1:02:03; '?' for None."""
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_status(elapsed_s: float, left_s: float | None, phase: str, detail: str = "",
                  width: int | None = None) -> str:
    """The status line; cut to `width` characters (with an ellipsis) when given."""
    left = f", ~{format_clock(left_s)} left" if left_s is not None else ""
    line = f"[{format_clock(elapsed_s)} elapsed{left}] {phase}"
    if detail:
        line += f": {detail}"
    if width is not None and len(line) > width:
        line = line[:max(1, width - 1)] + "…"
    return line


def format_phase(index: int, total: int, name: str) -> str:
    """'experiment 2/5 payments-breaker'."""
    return f"experiment {index}/{total} {name}"


class ProgressDisplay:
    """The live status line (TTY) or periodic status lines (not a TTY)."""

    def __init__(self, stream: TextIO | None = None, is_tty: bool | None = None,
                 interval_s: float = 15.0, clock: Callable[[], float] = time.monotonic,
                 remaining: Callable[[float], float | None] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.is_tty = self.stream.isatty() if is_tty is None else is_tty
        self.interval_s = interval_s
        self.clock = clock
        self.started = clock()
        self.remaining = remaining or (lambda _now: None)
        self.phase = "starting"
        self.open_ended = False  # a wait with no end but the user's: no time left, no repeats
        self.detail_fn: Callable[[], str] = lambda: ""
        self._lock = threading.RLock()
        self._shown = ""  # what the live line shows now (TTY)
        self._last_plain = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._tick, name="gameday-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._clear()

    # -- what is shown ----------------------------------------------------------------------
    def set_phase(self, phase: str, detail_fn: Callable[[], str] | None = None,
                  open_ended: bool = False) -> None:
        with self._lock:
            self.phase = phase
            self.open_ended = open_ended
            self.detail_fn = detail_fn or (lambda: "")
            self._last_plain = float("-inf")  # a new phase is always shown
        self.refresh()

    def status_line(self) -> str:
        now = self.clock()
        try:
            detail = self.detail_fn()
        except Exception:  # noqa: BLE001 - a broken detail never breaks the display
            detail = ""
        width = shutil.get_terminal_size((120, 24)).columns - 1 if self.is_tty else None
        left = None if self.open_ended else self.remaining(now)
        return format_status(now - self.started, left, self.phase, detail, width)

    def refresh(self) -> None:
        with self._lock:
            line = self.status_line()
            if self.is_tty:
                if line != self._shown:
                    self._write("\r\x1b[2K" + line)
                    self._shown = line
            elif self.clock() - self._last_plain >= self.interval_s and not (
                    self.open_ended and self._last_plain > float("-inf")):
                self._write(line + "\n")
                self._last_plain = self.clock()

    def println(self, text: str) -> None:
        """A permanent line (the status line is redrawn under it)."""
        with self._lock:
            self._clear()
            self._write(text + "\n")
            if self.is_tty and not self._stop.is_set():
                self._shown = ""
                self.refresh()

    # -- internals --------------------------------------------------------------------------
    def _clear(self) -> None:
        if self.is_tty and self._shown:
            self._write("\r\x1b[2K")
            self._shown = ""

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.refresh()


class DisplayHandler(logging.Handler):
    """Log records on the terminal without breaking the status line."""

    def __init__(self, display: ProgressDisplay, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.display.println(self.format(record))
        except Exception:  # noqa: BLE001 - logging must not raise
            self.handleError(record)
