"""Tailing the local log-group files (``local_stack.log_groups``): the JSON log events written
since the last read, with their time.

Only complete lines are read (a line still being written waits for the next read); a file that
shrank (rotated, truncated) is read again from its start. A line that is not a JSON object is
not an event for a JSON-format rule and is skipped, as Contributor Insights skips it. The
event's time is its ``timestamp`` field (ISO 8601, or epoch milliseconds, as Lambda's JSON log
format and Powertools write it), else the time it was read.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_READ_BYTES = 8 * 1024 * 1024  # per file and round: a burst is read over several rounds


def event_time(event: dict[str, Any], default: float) -> float:
    value = event.get("timestamp")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return default
    return default


class LogTail:
    """Offsets of the files read so far."""

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}

    def read(self, path: Path, now: float) -> Iterator[tuple[float, dict[str, Any]]]:
        """(time, event) of every JSON object line appended to `path` since the last read."""
        try:
            size = os.path.getsize(path)
        except OSError:
            return
        offset = self._offsets.get(path, 0)
        if size < offset:  # truncated or replaced: start again
            offset = 0
            self._partial.pop(path, None)
        if size == offset:
            return
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read(MAX_READ_BYTES)
        self._offsets[path] = offset + len(chunk)
        data = self._partial.pop(path, b"") + chunk
        lines = data.split(b"\n")
        if lines[-1]:
            self._partial[path] = lines[-1]
        for line in lines[:-1]:
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event_time(event, now), event
