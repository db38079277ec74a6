"""`gameday status --watch`: the Game day view of the web UI's tab in the terminal, for those
without a browser — active faults with their countdown, breakers with since when, alarms in
ALARM first and the rest counted, each section with the age of its reading — redrawn every
`--interval` seconds until Ctrl-C or SIGTERM (the normal end: exit 0).

The layout is `loadtests.status_view.text_lines`, the data `loadtests.status.GamedayStatus`,
the same two the tab uses.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from local_stack.exit_codes import ExitCode
from local_stack.stop_signals import StopSignals

MIN_INTERVAL_S = 0.5
MAX_INTERVAL_S = 300.0
CLEAR = "\x1b[H\x1b[2J"


def watch(state_dir: Path, interval_s: float, out: TextIO | None = None,
          until: Callable[[], bool] | None = None) -> int:
    """Draw the view every interval_s until a signal (or `until()`); exit code 0."""
    from loadtests.status import GamedayStatus
    from loadtests.status_view import text_lines

    out = out or sys.stdout
    tty = out.isatty()
    source = GamedayStatus(state_dir, ttl_s=0.0)
    with StopSignals() as stop:
        while not stop.stopped.is_set() and not (until and until()):
            started = time.monotonic()
            snapshot = source.snapshot()
            lines = text_lines(snapshot["view"], snapshot["generated_at"])
            lines.append(f"(every {interval_s:g} s; Ctrl-C ends)")
            text = "\n".join(lines) + "\n"
            try:
                out.write((CLEAR + text) if tty else (text + "\n"))
                out.flush()
            except (OSError, ValueError):
                break
            stop.stopped.wait(max(0.0, interval_s - (time.monotonic() - started)))
    return ExitCode.OK
