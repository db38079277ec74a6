"""How each cell of the summary table is written — one place for the terminal table, the HTML
report and the SVG picture, so the three always say the same thing."""

from __future__ import annotations

from gameday.run.results import NOT_RUN, PASSED, ErrorBudget, ExperimentSummary, Timing

COLUMNS = ("experiment", "verdict", "detection", "recovery", "error budget used",
           "orders lost")


def verdict(exp: ExperimentSummary) -> str:
    return {PASSED: "PASSED", NOT_RUN: "not run"}.get(exp.outcome, exp.outcome.upper())


def timing(value: Timing | None) -> str:
    """'1.7 s (breaker payments open)'; 'never (...)'; '—' when not applicable."""
    if value is None:
        return "—"
    if value.seconds is None:
        return f"never ({value.label})"
    return f"{value.seconds:.1f} s ({value.label})"


def budget(value: ErrorBudget | None) -> str:
    """'40 % (2 of 5 allowed; 512 requests)'; '—' without requests."""
    if value is None or value.used is None:
        return "—"
    used = value.used
    pct = "∞" if used == float("inf") else f"{used * 100:.0f} %"
    return f"{pct} ({value.failed} failed of {value.requests}; {value.allowed:.1f} allowed)"


def budget_short(value: ErrorBudget | None) -> str:
    if value is None or value.used is None:
        return "—"
    return "∞" if value.used == float("inf") else f"{value.used * 100:.0f} %"


def orders(exp: ExperimentSummary) -> str:
    if exp.orders_lost is None:
        return "—"
    accepted = f" of {exp.orders_accepted}" if exp.orders_accepted is not None else ""
    dup = f", {exp.duplicate_orders} duplicated" if exp.duplicate_orders else ""
    return f"{exp.orders_lost}{accepted}{dup}"


def row(exp: ExperimentSummary, short: bool = False) -> list[str]:
    """The summary row of one experiment, in COLUMNS order."""
    return [exp.name, verdict(exp), timing(exp.detection), timing(exp.recovery),
            budget_short(exp.error_budget) if short else budget(exp.error_budget), orders(exp)]


def is_bad(exp: ExperimentSummary, column: str) -> bool:
    """Whether a cell deserves the failure colour."""
    if column == "verdict":
        return exp.outcome != PASSED
    if column == "detection":
        return exp.detection is not None and exp.detection.seconds is None
    if column == "recovery":
        return exp.recovery is not None and exp.recovery.seconds is None
    if column == "error budget used":
        used = exp.error_budget.used if exp.error_budget else None
        return used is not None and used > 1.0
    if column == "orders lost":
        return bool(exp.orders_lost) or bool(exp.duplicate_orders)
    return False
