"""The end of a game day in the terminal: the summary table, then — when something failed —
which hypothesis and why (observed vs expected), and where the report is."""

from __future__ import annotations

from pathlib import Path

from gameday.run import cells
from gameday.run.results import GameDayResult


def table(rows: list[list[str]], header: tuple[str, ...]) -> list[str]:
    """A plain text table, columns as wide as their widest cell."""
    widths = [max(len(str(r[i])) for r in [list(header), *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return lines


def summary_lines(result: GameDayResult, index: Path | None) -> list[str]:
    lines = [""]
    lines += table([cells.row(e, short=True) for e in result.experiments], cells.COLUMNS)
    lines.append("")
    over = [b for b in result.budgets if b.status == "over"]
    for b in over:
        lines.append(f"budget over: {b.title}: {b.observed_s:.1f} s (goal < {b.goal_s:g} s)")
    if result.teardown.get("leftovers"):
        lines.append("LEFT BEHIND after the teardown:")
        lines += [f"  {x}" for x in result.teardown["leftovers"]]
    if result.error:
        lines.append(f"GAME DAY ERROR: {result.error}")
    if result.interrupted_by:
        lines.append(f"INTERRUPTED by {result.interrupted_by}: faults rolled back, stack "
                     "stopped; the report is partial")
    for exp in result.failed:
        label = "INTERRUPTED" if exp.outcome == "interrupted" else "FAILED"
        lines.append(f"{label}: {exp.name} ({exp.outcome}) — {exp.title}")
        for check in exp.failed_checks:
            lines.append(f"  ✗ {check.describe(limit=100)}")
        if exp.reason:
            lines.append(f"  reason: {exp.reason}")
    outcome = result.outcome.upper()
    passed = sum(1 for e in result.experiments if e.passed)
    lines.append(f"game day {outcome}: {passed} of {len(result.experiments)} experiments "
                 f"passed in {result.duration_s or 0:.0f} s under {cells.load_under(result)} "
                 f"(seed {result.seed}; replay: {result.options.get('replay', '')})")
    if index is not None:
        lines.append(f"report: {index}")
    return lines
