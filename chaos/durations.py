"""Durations as users write them: `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$"  # also the schema's pattern
_PATTERN = re.compile(DURATION_PATTERN)


def parse_duration(value: str | float | int) -> float:
    """Seconds in `value`; ValueError naming the text when it is not a duration."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return float(value)
    match = _PATTERN.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 500ms, 2m)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def format_seconds(seconds: float | None) -> str:
    """`12.3 s`, `2 m 05 s`; `-` for None."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} m {rest:02d} s"
