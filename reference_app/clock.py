"""Time helpers shared by the services: epoch seconds/milliseconds and the ISO week label."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_s() -> int:
    """Current epoch time in whole seconds."""
    return int(time.time())


def now_ms() -> int:
    """Current epoch time in milliseconds."""
    return int(time.time() * 1000)


def iso_week(at: float | None = None) -> str:
    """The ISO week of epoch time `at` (default now, UTC) as in docs/shop.md: `2026-W47`."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str) -> int:
    """Epoch seconds of Monday 00:00 UTC of an ISO week label like `2026-W47`."""
    year, _, number = week.partition("-W")
    monday = datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=UTC)
    return int(monday.timestamp())
