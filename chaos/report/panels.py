"""The pieces of a journal that every report draws: its time axis, its fault windows, its load
by outcome and its signal series by kind. `chaos.report.html` (one experiment's page) and the
game-day report (`gameday.run.plots`) both draw from here, so the two show the same series in
the same colours."""

from __future__ import annotations

from typing import Any

from chaos.load.records import merge_last_sliver
from chaos.report.svg import Axis, line_panel

LOAD_OUTCOMES = ("ok", "rejected", "client", "errors")


def journal_axis(journal: dict[str, Any]) -> Axis:
    """The time axis from the run's start to its end (one second when it never ended)."""
    t0 = journal.get("start_ts", 0.0)
    return Axis(t0, journal.get("end_ts") or t0 + 1)


def fault_windows(journal: dict[str, Any], include_open: bool = False) -> list[dict[str, Any]]:
    """Each ended fault's window ({name, start, end, …}); with `include_open`, also the faults
    that were injected and never recorded as ended (drawn open to the right edge)."""
    faults = journal.get("faults", [])
    windows = [f["ended"] for f in faults if "ended" in f]
    if include_open:
        ended = {w.get("fault_id") for w in windows}
        windows += [dict(f["entry"], start=f["entry"]["started_at"], end=None)
                    for f in faults if "entry" in f and f["entry"]["fault_id"] not in ended]
    return windows


def signal(journal: dict[str, Any], kind: str) -> dict[str, list[tuple[float, Any]]]:
    """The timeline series of one kind (breaker, alarm, iterator_age, replicas), by name."""
    series = (journal.get("timeline") or {}).get("series", {})
    prefix = kind + ":"
    return {k[len(prefix):]: v for k, v in series.items() if k.startswith(prefix)}


def load_panel(journal: dict[str, Any], axis: Axis, windows: list[dict[str, Any]], title: str,
               height: int = 170) -> str | None:
    """Requests per second by outcome (ok, rejected, client, errors), drawn while the load ran
    and marked where it stopped (the run then settles its orders); None without load."""
    load_record = journal.get("load") or {}
    buckets = merge_last_sliver(load_record.get("per_second") or [])
    if not buckets:
        return None
    load = {k: [(b["t"] + b.get("width", 1.0) / 2, b[k] / max(b.get("width", 1.0), 0.05))
                for b in buckets] for k in LOAD_OUTCOMES}
    stopped = load_record.get("stopped_at")
    markers = []
    if isinstance(stopped, int | float) and stopped < axis.t1 - 0.5:
        markers.append((stopped, "load stopped: settling orders"))
    return line_panel(title, load, axis, windows, "/s", height=height, markers=markers)
