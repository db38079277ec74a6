"""How each cell of the summary table is written — one place for the terminal table, the HTML
report and the SVG picture, so the three always say the same thing."""

from __future__ import annotations

from chaos.numbers import NUMBERS, definition, format_value, percent
from gameday.run.headline import DETECTION_KEYS, RECOVERY_KEYS
from gameday.run.results import (
    NOT_RUN,
    PASSED,
    ErrorBudget,
    ExperimentSummary,
    GameDayResult,
    Timing,
)

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
    """'40 % (2 failed of 512; 5.1 allowed at 1 %)' — the share its budget verdict judged;
    '—' without a probe load."""
    if value is None or value.used is None:
        return "—"
    return (f"{percent(value.used)} ({value.failed} failed of {value.requests}; "
            f"{value.allowed:.1f} allowed at {percent(value.ratio)})")


def budget_short(value: ErrorBudget | None) -> str:
    if value is None or value.used is None:
        return "—"
    return percent(value.used)


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
        return exp.error_budget is not None and exp.error_budget.over
    if column == "orders lost":
        return bool(exp.orders_lost) or bool(exp.duplicate_orders)
    return False


def load_under(result: GameDayResult) -> str:
    """'60.0 req/s requested, 55.2 req/s achieved; 2.0 checkouts/s requested, 1.9
    checkouts/s achieved; 42 Locust users (12 buyers); 0.4 % failed (61 of 15012)' — the
    load the game day ran under, each number written as chaos.numbers defines it."""
    load = result.load_under

    def pair(requested_key: str, achieved_key: str) -> str:
        requested, achieved = load.get(requested_key), load.get(achieved_key)
        got = "no Locust report" if achieved is None else \
            f"{format_value(achieved_key, achieved)} achieved"
        if requested is None:
            return got
        return f"{format_value(requested_key, requested)} requested, {got}"

    parts = [pair("load_rate_requested", "load_rate")]
    if load.get("load_checkout_rate_requested") is not None \
            or load.get("load_checkout_rate") is not None:
        parts.append(pair("load_checkout_rate_requested", "load_checkout_rate"))
    users = load.get("load_users")
    buyers = f" ({load['load_buyers']} buyers)" if load.get("load_buyers") else ""
    parts.append(f"{users} Locust users{buyers}" if users else "Locust users: ?")
    if load.get("load_requests") is not None:
        parts.append(f"{format_value('load_failure_ratio', load.get('load_failure_ratio') or 0)}"
                     f" failed ({load.get('load_failures') or 0} of {load['load_requests']})")
    return "; ".join(parts)


def load_rows() -> list[str]:
    """The `load_*` numbers in the order the report lists them."""
    return ["load_rate_requested", "load_rate", "load_checkout_rate_requested",
            "load_checkout_rate", "load_users", "load_buyers", "load_requests",
            "load_checkouts", "load_failures", "load_failure_ratio"]


def legend() -> list[tuple[str, str]]:
    """What each column measures, in chaos.numbers' words (one definition)."""
    def defs(keys: tuple[str, ...]) -> str:
        found = [definition(k) for k in keys]
        return "; or ".join(d.definition.split(": ", 1)[-1] for d in found if d)

    return [("detection", defs(DETECTION_KEYS) + " (the first that applies)"),
            ("recovery", defs(RECOVERY_KEYS) + " (the first that applies)"),
            ("error budget used", NUMBERS["error_budget_used"].definition + "; "
             + NUMBERS["error_budget_failed"].definition.replace("of those, ", "failed: ")
             + " — of the experiment's own probe load, its share allowed in its YAML "
             "(`error-budget`), judged as a verdict"),
            ("orders lost", NUMBERS["orders_lost"].definition)]
